/**
 * The server-side script that stores each frame of a sequence space at most
 * once (docs/protocol.md, "Redis publisher"). Redis runs a script atomically,
 * so the check of the last stored seq, the XADD and the update of that seq
 * cannot interleave with another publisher's: a retry after a lost reply, a
 * resumed stream or two sessions of one interaction never store a frame twice.
 *
 * KEYS[1] the stream; KEYS[2] the sequence space's last stored seq (same slot).
 * ARGV[1] that key's expiry in seconds; ARGV[2] MAXLEN (`0`: none); ARGV[3..]
 * the audio record's fields and values exactly as a plain XADD takes them. The
 * script reads seq_start, seq_end and the frame sizes from those fields, so it
 * has one source of truth and nothing to keep in step with the record shape.
 *
 * - Nothing beyond the last stored seq: appends nothing, returns 0 (the record
 *   is already there: the caller reports it committed). It still renews the
 *   last-seq key's expiry: a replicated write, so that a WAIT after it on this
 *   connection (a retry on a fresh connection after a lost reply) waits until
 *   the replicas have everything up to it, the record included. Redis 7.0 sets
 *   a connection's WAIT offset after every command, a read included, so it
 *   waits anyway; a server that moves that offset only on writes would
 *   otherwise confirm the record at once, however far its replicas lag.
 * - Partly beyond: appends only the frames after it, with the same fields, the
 *   payload cut and `seq_start`, `frames` and `frame_bytes`/`frame_sizes`
 *   rewritten for the frames kept (`frame_sizes` becomes `frame_bytes` when
 *   the frames kept all have one size, as the protocol writes it).
 * - Otherwise: appends the record as it is.
 * Returns the number of frames appended. The XADD comes before the SET: were
 * the SET to fail after it, a retry would store a duplicate, never lose a frame.
 * (Redis refuses OOM at a script's first write only, and MISCONF depends on a
 * state that cannot change while a script runs: both writes happen or neither.)
 * Numbers are written with %d: Lua's tostring turns 10^14 into `1e+14`.
 */
import { createHash } from 'node:crypto';
import type { Result } from 'ioredis';

export const APPEND_NEW_FRAMES_LUA = `
local last = redis.call('GET', KEYS[2])
local at = {}
for i = 3, #ARGV, 2 do at[ARGV[i]] = i + 1 end
local seq_start, seq_end = tonumber(ARGV[at.seq_start]), tonumber(ARGV[at.seq_end])
local skip = 0
if last then
  last = tonumber(last)
  if seq_end <= last then
    redis.call('EXPIRE', KEYS[2], ARGV[1])
    return 0
  end
  if last >= seq_start then skip = last - seq_start + 1 end
end
local cut, sizes_name, sizes_value = 0, nil, nil
if skip > 0 and at.frame_bytes then
  cut = skip * tonumber(ARGV[at.frame_bytes])
elseif skip > 0 then
  local runs, left, first, same = {}, skip, nil, true
  for run in string.gmatch(ARGV[at.frame_sizes], '[^,]+') do
    local size, count = string.match(run, '^(%d+)x(%d+)$')
    if not size then size, count = run, 1 end
    size, count = tonumber(size), tonumber(count)
    local dropped = math.min(left, count)
    left = left - dropped
    cut = cut + dropped * size
    if count > dropped then
      local kept = count - dropped
      runs[#runs + 1] = kept == 1 and string.format('%d', size) or string.format('%dx%d', size, kept)
      first = first or size
      same = same and size == first
    end
  end
  if same then
    sizes_name, sizes_value = 'frame_bytes', string.format('%d', first)
  else
    sizes_name, sizes_value = 'frame_sizes', table.concat(runs, ',')
  end
end
local args = {'XADD', KEYS[1]}
if ARGV[2] ~= '0' then
  args[3], args[4], args[5] = 'MAXLEN', '~', ARGV[2]
end
args[#args + 1] = '*'
for i = 3, #ARGV, 2 do
  local name, value = ARGV[i], ARGV[i + 1]
  if skip > 0 then
    if name == 'seq_start' then
      value = string.format('%d', last + 1)
    elseif name == 'frames' then
      value = string.format('%d', seq_end - last)
    elseif name == 'frame_sizes' then
      name, value = sizes_name, sizes_value
    elseif name == 'payload' then
      value = string.sub(value, cut + 1)
    end
  end
  args[#args + 1] = name
  args[#args + 1] = value
end
redis.call(unpack(args))
redis.call('SET', KEYS[2], ARGV[at.seq_end], 'EX', ARGV[1])
return seq_end - seq_start + 1 - skip
`;

/** The script's SHA1, as EVALSHA takes it. */
export const APPEND_NEW_FRAMES_SHA = createHash('sha1').update(APPEND_NEW_FRAMES_LUA).digest('hex');

/** The ioredis command name the adapter defines for the script (EVALSHA, EVAL when not loaded). */
export const APPEND_NEW_FRAMES = 'appendNewFrames';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** APPEND_NEW_FRAMES_LUA: keys (stream, last seq), then expiry, MAXLEN and the record's fields. */
    appendNewFrames(
      streamKey: string,
      lastSeqKey: string,
      ttlSeconds: string,
      maxlen: string,
      ...fields: Array<string | Buffer>
    ): Result<number, Context>;
  }
}
