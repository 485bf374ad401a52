// Types of the parts of servers.mjs that test/bench-configs.test.ts checks.
export interface ConfigInput {
  dir: string;
  port: number;
  /** `host:port` of each member. */
  members: readonly string[];
  user?: { user: string; group: string } | undefined;
}
export const INSTALL_HINT: string;
export function apacheConfig(input: ConfigInput & { modulesDir: string }): string;
export function nginxConfig(input: ConfigInput): string;
export function haproxyConfig(input: Pick<ConfigInput, 'port' | 'members'>): string;
export function keyLines(config: string, dir: string): string[];
