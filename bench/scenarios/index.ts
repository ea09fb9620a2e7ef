/**
 * THE list of benchmark scenarios, in row order. A new scenario is one new module in this
 * folder plus one line here; the harness interleaves its cells with the others.
 *
 * Must never start anything at import time: scenarios do their work in `prepare`.
 */
import type { OneShotScenario } from '../one-shot.js';
import type { Scenario } from '../scenario.js';
import { agentRenderScenario } from './agent-render.js';
import { kvAuditScenario } from './kv-audit.js';
import { kvScenario } from './kv.js';
import { leaseScaleScenario } from './lease-scale.js';
import { pgCredsScenario } from './pg-creds.js';
import { rotationRateScenario } from './rotation-rate.js';
import { runStartupScenario } from './run-startup.js';
import { watchFanoutScenario } from './watch-fanout.js';

export const scenarios: readonly Scenario[] = [kvScenario, kvAuditScenario];

/** Scenarios that run once, after the load cells, each reported as its own section. */
export const oneShotScenarios: readonly OneShotScenario[] = [
  leaseScaleScenario,
  pgCredsScenario,
  rotationRateScenario,
  watchFanoutScenario,
  runStartupScenario,
  agentRenderScenario,
];
