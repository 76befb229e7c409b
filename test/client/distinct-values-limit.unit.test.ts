import { countDistinct } from 'drizzle-orm';
import { integer, pgTable } from 'drizzle-orm/pg-core';
import { describe, expect, it } from 'vitest';
import { finishGroup, MAX_DISTINCT_VALUES } from '../../src/client/aggregate-combine.js';
import { planOutputs } from '../../src/client/aggregate-plan.js';
import { InvalidInputError } from '../../src/index.js';
import { describeTable } from '../../src/schema/table-meta.js';

const t = pgTable('t', { id: integer().primaryKey(), v: integer() });

describe('the limit on distinct values combined on the client', () => {
  const plan = planOutputs(describeTable(t), { n: countDistinct(t.v) }, [], 'select');
  // Two shards' partial rows: each sends its distinct values of v as text.
  const group = { groupValues: [], partials: [[['1', '2']], [['2', '3', '4']]] };

  it('counts the union of the shards\' values within the budget', () => {
    expect(finishGroup(plan, group, { left: 5 })).toEqual({ n: 4 });
  });

  it('refuses a query whose shards send more values than the budget, with InvalidInputError naming MAX_DISTINCT_VALUES', () => {
    expect(() => finishGroup(plan, group, { left: 4 })).toThrow(InvalidInputError);
    expect(() => finishGroup(plan, group, { left: 4 })).toThrow(new RegExp(`more than ${MAX_DISTINCT_VALUES} distinct values`));
  });
});
