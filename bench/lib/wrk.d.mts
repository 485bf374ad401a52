// Types of the parts of wrk.mjs that test/bench-configs.test.ts checks.
export function wrkScript(headerSets?: readonly Record<string, string>[]): string;
