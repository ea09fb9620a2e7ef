/**
 * THE list of benchmark scenarios, in row order. A new scenario is one new module in this
 * folder plus one line here; the harness interleaves its cells with the others.
 *
 * Must never start anything at import time: scenarios do their work in `prepare`.
 */
import type { Scenario } from '../scenario.js';
import { kvAuditScenario } from './kv-audit.js';
import { kvScenario } from './kv.js';

export const scenarios: readonly Scenario[] = [kvScenario, kvAuditScenario];
