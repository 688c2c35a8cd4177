/**
 * The end of a message in Lua, shared by the spool's finish script (spool.ts FINISH_JOB_LUA) and
 * the fast lane's (leases.ts FINISH_LEASED_LUA): after the script has removed its job from the
 * message's pending set (`removed` = SREM's answer), count what is still pending; when nothing is,
 * delete the pending set, record and operator marks — and the body too unless the message has DSN
 * reports to send (its collector exists): then the body stays for them and the message id
 * (ARGV[2]) goes into the reports-due zset, scored by the server's clock (ms). The script returns
 * { removed, jobs still pending (0 = message finished), 1 if this call made the reports due }.
 * Pure: builds script text from the caller's KEYS references.
 */

export interface MessageEndKeys {
  /** Lua expressions naming each key, e.g. `KEYS[3]`. */
  pending: string;
  body: string;
  record: string;
  marks: string;
  collector: string;
  due: string;
}

export function messageEndLua(k: MessageEndKeys): string {
  return `local left = redis.call('SCARD', ${k.pending})
local due = 0
if left == 0 then
  if redis.call('EXISTS', ${k.collector}) == 1 then
    redis.call('DEL', ${k.pending}, ${k.record}, ${k.marks})
    if removed == 1 then
      local t = redis.call('TIME')
      redis.call('ZADD', ${k.due}, 'NX', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), ARGV[2])
      due = 1
    end
  else
    redis.call('DEL', ${k.pending}, ${k.body}, ${k.record}, ${k.marks})
  end
end
return {removed, left, due}`;
}
