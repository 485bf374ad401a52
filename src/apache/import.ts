/**
 * `fromApacheConfig(text)`: turns an Apache httpd mod_proxy_balancer configuration into proxy-balancer
 * options, one entry per `balancer://` name, and lists every proxy or balancer setting it could not
 * carry over, with its line and the reason.
 *
 * What it reads: `<Proxy "balancer://name" [key=value…]>` sections with their `BalancerMember` and
 * `ProxySet` lines; `BalancerMember balancer://name url …` and `ProxySet balancer://name …` outside a
 * section; `ProxyPass path balancer://name/ [key=value…]` (its parameters apply to the balancer, as
 * ProxySet's do) and `ProxyPass balancer://name/` inside `<Location path>`; `ProxyHCTemplate`;
 * `ProxyPreserveHost`, `ProxyTimeout` and `Timeout`; and the documented sticky-cookie recipe
 * `Header add Set-Cookie "ROUTEID=.%{BALANCER_WORKER_ROUTE}e; path=/" env=BALANCER_ROUTE_CHANGED`.
 * `<IfModule>`, `<VirtualHost>` and `<Location>` are entered. Values are checked with the rules
 * httpd's own parser applies (modules/proxy/mod_proxy.c `set_worker_param`, `set_balancer_param`,
 * `add_member`, `add_pass`, `set_proxy_param`, `proxysection`; mod_proxy_hcheck.c `set_worker_hc_param`).
 *
 * What it reports: every directive or parameter of the proxy and balancer domain that it does not
 * import (`unsupported`): those without an equivalent here, values httpd itself would refuse, and
 * proxy directives inside sections it does not evaluate (`<IfDefine>`, `<If>`, `<Directory>`, …).
 * A directive belongs to that domain when its name starts with `Proxy` or `Balancer`, it sits in a
 * `<Proxy balancer://…>` section, it mentions `balancer://`, it is a `Header` using a `BALANCER_*`
 * variable, or it is `SetHandler balancer-manager`.
 *
 * What it skips without a word: everything else (LoadModule, Listen, DocumentRoot, logging…). Their
 * number is returned as `ignored`, so a caller can tell an empty file from a file with nothing to import.
 *
 * It never throws on odd input, except when sections do not nest (an unclosed `<Proxy>`, a stray
 * `</VirtualHost>`, a section line without its `>`): it then throws {@link ApacheConfigError} naming
 * the line, because which directive belongs to which balancer is no longer knowable. Values httpd
 * would refuse are reported, not thrown, and so are values httpd takes but proxy-balancer's own
 * validation refuses (`hcpasses=5000`, a `stickysession` name with `:`), so every balancer returned
 * is one createBalancer accepts. Nothing is resolved or connected to.
 *
 * Balancers are keyed by name across the whole file, as if every `<VirtualHost>` inherited them
 * (httpd's default, BalancerInherit On). Scope-wide settings (ProxyPreserveHost, ProxyTimeout,
 * Timeout) are taken from the scope of the balancer's first `ProxyPass` (its `<Location>`, then its
 * `<VirtualHost>`, then the server), else from where the balancer is first named.
 *
 * The modules, by what they read: lexer.ts (text to directives), walk.ts (sections, scopes and which
 * directive goes where), worker-params.ts (BalancerMember), balancer-params.ts (ProxySet, ProxyPass
 * and `<Proxy>` parameters), health-params.ts (hc* and ProxyHCTemplate), cookies.ts (the sticky
 * Set-Cookie recipe, ProxyPassReverseCookie*), assemble.ts (drafts to options), with state.ts (the
 * drafts and the report), values.ts (argument readers) and result.ts (the public types).
 */
import { finish } from './assemble.js';
import { parseApacheConfig } from './lexer.js';
import type { ApacheImport } from './result.js';
import { ImportState } from './state.js';
import { walk } from './walk.js';

export { ApacheConfigError } from './lexer.js';
export type { ApacheImport, ImportedBalancer, ImportedBalancerOptions, ImportedMemberOptions, UnsupportedDirective } from './result.js';

/**
 * Reads Apache httpd configuration text and returns proxy-balancer options for each
 * `balancer://` it defines, plus what could not be imported. See the module comment for the rules.
 * @throws {ApacheConfigError} when sections do not nest (for example an unclosed `<Proxy>`).
 */
export function fromApacheConfig(text: string): ApacheImport {
  const state = new ImportState();
  walk(state, parseApacheConfig(text), { scope: state.global, location: undefined, section: undefined });
  return finish(state);
}
