// The floors of `cargo xtask bench --vs pocketbase`, served by the same `wrangler dev --local` as
// edgewrite: `GET /` is the least a Worker can answer; `GET /object` adds what edgewrite cannot
// avoid, one crossing to a Durable Object that answers at once.
import { DurableObject } from 'cloudflare:workers';

export class Floor extends DurableObject {
  fetch() {
    return new Response('ok');
  }
}

export default {
  fetch(request, env) {
    if (new URL(request.url).pathname === '/object') return env.FLOOR.getByName('floor').fetch(request);
    return new Response('ok');
  },
};
