/** The engines by name: how an HTTP attempt reaches a member. */
import type { EngineName } from '../../config.js';
import type { EngineOptions, ProxyEngine } from '../engine.js';
import { HttpProxy3Engine } from './http-proxy-3.js';
import { UndiciEngine } from './undici.js';

export function createEngine(name: EngineName, options: EngineOptions): ProxyEngine {
  return name === 'undici' ? new UndiciEngine(options) : new HttpProxy3Engine(options);
}
