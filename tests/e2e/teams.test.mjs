// Teams and memberships: owners, members joining through a server key, roles, leaving, the
// owner rules, and the `team:` roles a membership grants.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { adminClient, raw, rejectsWith, node, userClient } from './helpers.mjs';

/** The permission roles edgewrite resolved for a client (test-only route). */
async function rolesOf(client) {
  const headers = {};
  if (client.config.session) headers['x-appwrite-session'] = client.config.session;
  const res = await raw('/__edgewrite/roles', { headers });
  assert.equal(res.status, 200, res.text);
  return res.json.roles;
}

test('owner creates a team, a member joins, gets roles, and leaves', async () => {
  const owner = await userClient({ name: 'Owner' });
  const member = await userClient({ name: 'Member' });
  const stranger = await userClient({ name: 'Stranger' });
  const ownerTeams = new node.Teams(owner.client);
  const memberTeams = new node.Teams(member.client);
  const strangerTeams = new node.Teams(stranger.client);
  const adminTeams = new node.Teams(adminClient());

  const team = await ownerTeams.create({ teamId: node.ID.unique(), name: 'Crew', roles: ['lead'] });
  assert.equal(team.total, 1);
  assert.deepEqual({ ...team.prefs }, {});
  const [ownership] = (await ownerTeams.listMemberships({ teamId: team.$id })).memberships;
  assert.deepEqual(ownership.roles, ['lead', 'owner'], 'a client creator always owns its team');
  assert.equal(ownership.confirm, true);
  assert.equal(ownership.userId, owner.user.$id);
  assert.equal(ownership.userName, 'Owner');
  assert.equal(ownership.teamName, 'Crew');
  assert.ok((await rolesOf(owner.client)).includes(`team:${team.$id}/owner`));

  // A stranger sees nothing of it.
  await rejectsWith(assert, strangerTeams.get({ teamId: team.$id }), 404, 'team_not_found');
  await rejectsWith(assert, strangerTeams.listMemberships({ teamId: team.$id }), 404, 'team_not_found');
  assert.equal((await strangerTeams.list()).total, 0);

  // The server adds the member directly: confirmed at once.
  const joined = await adminTeams.createMembership({ teamId: team.$id, roles: ['editor'], userId: member.user.$id });
  assert.equal(joined.confirm, true);
  assert.notEqual(joined.joined, '');
  await rejectsWith(assert, adminTeams.createMembership({ teamId: team.$id, roles: ['editor'], userId: member.user.$id }), 409, 'team_invite_already_exists');
  assert.equal((await ownerTeams.get({ teamId: team.$id })).total, 2);

  // The member reads the team and its members, holds the team roles, and cannot manage it.
  assert.deepEqual((await memberTeams.list()).teams.map((t) => t.$id), [team.$id]);
  assert.equal((await memberTeams.listMemberships({ teamId: team.$id })).total, 2);
  const roles = await rolesOf(member.client);
  for (const r of [`team:${team.$id}`, `team:${team.$id}/editor`, `member:${joined.$id}`]) assert.ok(roles.includes(r), `${r} in ${roles}`);
  assert.ok(!roles.includes(`team:${team.$id}/owner`));
  await rejectsWith(assert, memberTeams.updateName({ teamId: team.$id, name: 'Mine' }), 401, 'user_unauthorized');
  await rejectsWith(assert, memberTeams.updateMembership({ teamId: team.$id, membershipId: ownership.$id, roles: ['x'] }), 401, 'user_unauthorized');
  await rejectsWith(assert, memberTeams.deleteMembership({ teamId: team.$id, membershipId: ownership.$id }), 401, 'user_unauthorized');

  // The owner changes the member's roles; they apply on the member's next request.
  const promoted = await ownerTeams.updateMembership({ teamId: team.$id, membershipId: joined.$id, roles: ['admin'] });
  assert.deepEqual(promoted.roles, ['admin']);
  assert.ok((await rolesOf(member.client)).includes(`team:${team.$id}/admin`));
  assert.equal((await ownerTeams.updateName({ teamId: team.$id, name: 'Crew 2' })).name, 'Crew 2');
  assert.deepEqual({ ...(await ownerTeams.updatePrefs({ teamId: team.$id, prefs: { color: 'red' } })) }, { color: 'red' });
  assert.deepEqual({ ...(await memberTeams.getPrefs({ teamId: team.$id })) }, { color: 'red' });

  // The member leaves.
  await memberTeams.deleteMembership({ teamId: team.$id, membershipId: joined.$id });
  await rejectsWith(assert, memberTeams.get({ teamId: team.$id }), 404, 'team_not_found');
  assert.ok(!(await rolesOf(member.client)).some((r) => r.startsWith(`team:${team.$id}`)));
  assert.equal((await ownerTeams.get({ teamId: team.$id })).total, 1);

  // The last owner can neither leave nor lose the owner role; the team can be deleted.
  await rejectsWith(assert, ownerTeams.deleteMembership({ teamId: team.$id, membershipId: ownership.$id }), 400, 'membership_deletion_prohibited');
  await rejectsWith(assert, ownerTeams.updateMembership({ teamId: team.$id, membershipId: ownership.$id, roles: ['lead'] }), 400, 'general_argument_invalid');
  await ownerTeams.delete({ teamId: team.$id });
  await rejectsWith(assert, ownerTeams.get({ teamId: team.$id }), 404, 'team_not_found');
  assert.equal((await new node.Users(adminClient()).listMemberships({ userId: owner.user.$id })).total, 0);
});

test('server keys: teams without owners, invitations by email create the user, lists and errors', async () => {
  const admin = new node.Teams(adminClient());
  const team = await admin.create({ teamId: node.ID.unique(), name: 'Server team' });
  assert.equal(team.total, 0, 'a key creates the team without joining it');
  await rejectsWith(assert, admin.create({ teamId: team.$id, name: 'again' }), 409, 'team_already_exists');

  const email = `invitee-${Date.now().toString(36)}@example.com`;
  const m = await admin.createMembership({ teamId: team.$id, roles: ['viewer'], email, name: 'Invitee' });
  assert.equal(m.userEmail, email);
  assert.equal(m.userName, 'Invitee');
  const users = new node.Users(adminClient());
  const created = await users.get({ userId: m.userId });
  assert.equal(created.email, email, 'an unknown email becomes a user');
  assert.equal((await users.listMemberships({ userId: m.userId })).memberships[0].teamId, team.$id);

  await rejectsWith(assert, admin.createMembership({ teamId: team.$id, roles: ['viewer'] }), 400, 'general_argument_invalid');
  await rejectsWith(assert, admin.createMembership({ teamId: team.$id, roles: ['viewer'], userId: 'no-such-user' }), 404, 'user_not_found');
  await rejectsWith(assert, admin.createMembership({ teamId: team.$id, roles: ['bad role'], email }), 400, 'general_argument_invalid');
  await rejectsWith(assert, admin.getMembership({ teamId: team.$id, membershipId: 'nope' }), 404, 'membership_not_found');
  await rejectsWith(assert, admin.get({ teamId: 'no-such-team' }), 404, 'team_not_found');

  const searched = await admin.list({ search: 'Server team', queries: [node.Query.equal('$id', [team.$id])] });
  assert.deepEqual(searched.teams.map((t) => t.$id), [team.$id]);
  const byRole = await admin.listMemberships({ teamId: team.$id, queries: [node.Query.contains('roles', ['viewer'])] });
  assert.equal(byRole.total, 1);
  await admin.delete({ teamId: team.$id });
});

test('an owner invitation needs an allowed url, and accepting needs the emailed secret', async () => {
  const owner = await userClient();
  const teams = new node.Teams(owner.client);
  const team = await teams.create({ teamId: node.ID.unique(), name: 'Invites' });
  await rejectsWith(
    assert,
    teams.createMembership({ teamId: team.$id, roles: ['member'], email: 'friend@example.com', url: 'https://evil.example/join' }),
    400,
    'general_argument_invalid',
  );
  // A guessed membership id or secret learns nothing.
  const res = await raw(`/teams/${team.$id}/memberships/nope/status`, {
    method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId: owner.user.$id, secret: 'x' }),
  });
  assert.equal(res.status, 404);
  assert.equal(res.json.type, 'membership_not_found');
  await teams.delete({ teamId: team.$id });
});
