/**
 * CPU time and memory of a front end and every process under it, read from /proc (Linux), so a
 * node child, Apache's or nginx's master and workers and HAProxy's threads are all measured the
 * same way: user + system CPU of each process (its threads included) plus the CPU of the children
 * it reaped (a worker that exits mid-window still counts), and resident memory summed over the tree.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

const CLOCK_TICKS = getconf('CLK_TCK', 100);
const PAGE_BYTES = getconf('PAGESIZE', 4096);

function getconf(name, fallback) {
  try {
    const value = Number(execFileSync('getconf', [name], { encoding: 'utf8' }).trim());
    return Number.isInteger(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}

/** Whether /proc can be read here (Linux); without it the bench reports no CPU or RSS. */
export function procAvailable() {
  try {
    readFileSync('/proc/self/stat', 'utf8');
    return true;
  } catch {
    return false;
  }
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces and parentheses). */
function statFields(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined; // the process is gone
  }
}

/** `root` and every live process descended from it. */
export function processTree(root) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(entry);
    if (fields === undefined) continue;
    const ppid = Number(fields[1]); // field 4 of stat: ppid
    if (!children.has(ppid)) children.set(ppid, []);
    children.get(ppid).push(Number(entry));
  }
  const tree = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift();
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/**
 * CPU µs used so far by `root`'s tree: utime + stime + cutime + cstime of each live process
 * (stat fields 14 to 17, in clock ticks).
 */
export function treeCpuMicros(root) {
  let ticks = 0;
  for (const pid of processTree(root)) {
    const f = statFields(pid);
    if (f === undefined) continue;
    ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  }
  return (ticks * 1e6) / CLOCK_TICKS;
}

/** Resident bytes of `root`'s tree (statm's second field; shared pages count once per process). */
export function treeRssBytes(root) {
  let pages = 0;
  for (const pid of processTree(root)) {
    try {
      pages += Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
    } catch {
      // gone
    }
  }
  return pages * PAGE_BYTES;
}

/**
 * Samples the tree's RSS every `intervalMs` until `stop()`, which returns the peak seen
 * (one last sample included), in bytes.
 */
export function sampleRss(root, intervalMs = 250) {
  let peak = treeRssBytes(root);
  const timer = setInterval(() => {
    peak = Math.max(peak, treeRssBytes(root));
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, treeRssBytes(root));
    },
  };
}

/** Sends `signal` to every process of `root`'s tree, leaves first; ignores processes already gone. */
export function signalTree(root, signal) {
  let pids;
  try {
    pids = processTree(root).reverse();
  } catch {
    pids = [root];
  }
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
  }
}

/** Whether a process with this id is alive (not a zombie). */
export function alive(pid) {
  const f = statFields(pid);
  return f !== undefined && f[0] !== 'Z';
}
