/**
 * The reaper: a tiny child of the orchestrator that SIGKILLs every process the orchestrator registered
 * with it as soon as its IPC channel to the orchestrator closes — however the orchestrator ended, even
 * by SIGKILL. It covers the children that cannot watch their parent themselves (redis-server, Herald).
 * Messages: { add: pid } and { remove: pid }.
 */
const pids = new Set<number>();

function reap(): never {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  process.exit(0);
}

process.on('message', (msg: { add?: number; remove?: number }) => {
  if (typeof msg.add === 'number') pids.add(msg.add);
  if (typeof msg.remove === 'number') pids.delete(msg.remove);
});
process.on('disconnect', reap);
process.on('SIGTERM', reap);
process.on('SIGINT', () => undefined); // a terminal's ^C reaches the whole group: wait for the disconnect
