import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createRequestGate } from './request-gate.js';
import { isCofferError } from './errors.js';

const refusedAsSealed = (error: unknown): boolean => isCofferError(error) && error.code === 'sealed' && error.message === 'Vault is sealed';

describe('request gate', () => {
  it('refuses requests as sealed until opened, and again once closed', () => {
    const gate = createRequestGate();
    assert.throws(() => gate.enter(), refusedAsSealed);
    gate.open();
    const release = gate.enter();
    assert.equal(gate.inFlight, 1);
    gate.close();
    assert.throws(() => gate.enter(), refusedAsSealed);
    assert.equal(gate.inFlight, 1, 'closing does not cut off what was admitted');
    release();
    assert.equal(gate.inFlight, 0);
  });

  it('resolves the drain only once every admitted request has been released', async () => {
    const gate = createRequestGate();
    gate.open();
    const first = gate.enter();
    const second = gate.enter();
    gate.close();
    const events: string[] = [];
    const drained = gate.drained(60_000).then((clean) => events.push(`drained:${clean}`));
    first();
    // A second call of the same release must not count for the other request.
    first();
    await new Promise((resolve) => setImmediate(resolve));
    events.push('second released');
    second();
    await drained;
    assert.deepEqual(events, ['second released', 'drained:true']);
  });

  it('gives up the wait for a request that never ends, and says so', async () => {
    const gate = createRequestGate();
    gate.open();
    const stuck = gate.enter();
    gate.close();
    assert.equal(await gate.drained(1), false);
    assert.equal(gate.inFlight, 1);
    stuck();
    assert.equal(await gate.drained(1), true);
  });
});
