// The floor of `cargo xtask bench --vs pocketbase`: the least a Worker can answer, served by the
// same `wrangler dev --local` as edgewrite.
export default {
  fetch: () => new Response('ok'),
};
