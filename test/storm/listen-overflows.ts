/**
 * The kernel's count of connections dropped because a listening socket's
 * accept queue was full (TcpExt ListenOverflows in /proc/net/netstat, Linux).
 * A storm of simultaneous connects that overflows the queue shows here: the
 * dropped clients retry their SYN after 1 s, then 3 s, 7 s..., which is
 * where reconnect times of whole seconds come from. Machine-wide: other
 * processes' overflows count too. undefined where the file does not exist.
 */
import fs from 'node:fs';

export function listenOverflows(): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/net/netstat', 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n').filter((l) => l.startsWith('TcpExt:'));
  if (lines.length < 2) return undefined;
  const names = lines[0].split(/\s+/);
  const values = lines[1].split(/\s+/);
  const at = names.indexOf('ListenOverflows');
  return at > 0 ? Number(values[at]) : undefined;
}
