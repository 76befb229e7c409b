import { describe, expect, it } from 'vitest';
import { redactCommandLine, redactText, redactUrl } from '../../src/redact.js';

describe('redaction of secrets in printed output', () => {
  it.each([
    ['postgres://u:s3cret@db:5432/app', 'postgres://u:***@db:5432/app'],
    ['postgresql://u@db/app?password=s3cret&sslmode=require', 'postgresql://u@db/app?password=***&sslmode=require'],
    ['postgres://db/app?sslmode=require&PASSWORD=s3cret', 'postgres://db/app?sslmode=require&PASSWORD=***'],
    ['postgres://u:s3cret@db/app?sslpassword=s3cret', 'postgres://u:***@db/app?sslpassword=***'],
    ['postgres://u@db/app', 'postgres://u@db/app'],
    ['postgres://u:s3cret@[db/app', 'postgres://u:***@[db/app'],
    ['not a url password=s3cret', 'not a url password=***'],
  ])('%s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
    expect(redactUrl(url)).not.toContain('s3cret');
  });

  it('finds URLs inside text', () => {
    expect(redactText("could not reach 'postgres://u:s3cret@db/app' (or postgres://db/x?password=s3cret)")).toBe(
      "could not reach 'postgres://u:***@db/app' (or postgres://db/x?password=***)",
    );
  });

  it('redacts command lines, flags with = and secret flags included', () => {
    const line = redactCommandLine([
      'percolator', 'bench', '--shard-url', 'postgres://u:s3cret@h1/db', '--local-url=postgres://h2/db?password=s3cret',
      '--token', 's3cret', '--token=s3cret', '--duration', '5',
    ]);
    expect(line).toBe('percolator bench --shard-url postgres://u:***@h1/db --local-url=postgres://h2/db?password=*** --token *** --token=*** --duration 5');
  });
});
