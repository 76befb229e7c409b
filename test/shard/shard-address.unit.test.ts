import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import { redactText, redactUrl } from '../../src/redact.js';
import { parseShardAddress, splitShardList } from '../../src/shard/shard-address.js';

describe('shard URLs with several hosts', () => {
  it('splits libpq multi-host URLs into one URL per host, in order, asking for the primary', () => {
    const address = parseShardAddress('postgres://app:s%40cret@db-a:5432,db-b:5433,[::1]:5434/shop?sslmode=disable&target_session_attrs=read-write&application_name=x');
    expect(address.hosts).toEqual(['db-a:5432', 'db-b:5433', '[::1]:5434']);
    expect(address.hostUrls).toEqual([
      'postgres://app:s%40cret@db-a:5432/shop?sslmode=disable&application_name=x',
      'postgres://app:s%40cret@db-b:5433/shop?sslmode=disable&application_name=x',
      'postgres://app:s%40cret@[::1]:5434/shop?sslmode=disable&application_name=x',
    ]);
    expect(address.target).toBe('read-write');
  });

  it('asks for the primary when several hosts are given, whatever libpq would default to', () => {
    expect(parseShardAddress('postgresql://u@h1,h2/db').target).toBe('read-write');
    expect(parseShardAddress('postgresql://u@h1,h2/db?target_session_attrs=any').target).toBe('read-write');
    expect(parseShardAddress('postgresql://u@h1,h2/db?target_session_attrs=primary').target).toBe('primary');
    expect(parseShardAddress('postgresql://u@h1,h2').hostUrls).toEqual(['postgresql://u@h1', 'postgresql://u@h2']);
  });

  it('leaves single-host URLs as they are, checked only when they ask for it', () => {
    const plain = 'postgres://u:p@127.0.0.1:5432/db?sslmode=disable';
    expect(parseShardAddress(plain)).toEqual({ url: plain, hostUrls: [plain], hosts: ['127.0.0.1:5432'], target: undefined });
    const asked = parseShardAddress('postgres://u:p@127.0.0.1:5432/db?target_session_attrs=read-write');
    expect(asked.hostUrls).toEqual(['postgres://u:p@127.0.0.1:5432/db']);
    expect(asked.target).toBe('read-write');
    // Keyword/value strings and other forms pass through unchanged.
    expect(parseShardAddress('host=h port=5432')).toEqual({ url: 'host=h port=5432', hostUrls: ['host=h port=5432'], hosts: [], target: undefined });
  });

  it('refuses what a written-to shard cannot use, without the password in the message', () => {
    for (const attrs of ['read-only', 'standby', 'prefer-standby', 'nonsense']) {
      expect(() => parseShardAddress(`postgres://u:secret@h1,h2/db?target_session_attrs=${attrs}`)).toThrow(InvalidInputError);
    }
    expect(() => parseShardAddress('postgres://u:secret@h1,,h2/db')).toThrow(/an empty host/);
    try {
      parseShardAddress('postgres://u:secret@h1,h2/db?target_session_attrs=standby');
    } catch (error) {
      expect((error as Error).message).not.toContain('secret');
      expect((error as Error).message).toContain('h1,h2');
    }
  });

  it('redacts the password of a multi-host URL (the URL parser refuses them)', () => {
    expect(redactUrl('postgres://u:secret@h1:1,h2:2/db?target_session_attrs=read-write')).toBe('postgres://u:***@h1:1,h2:2/db?target_session_attrs=read-write');
    expect(redactText('shard postgres://u:secret@h1:1,h2:2/db failed')).not.toContain('secret');
  });

  it('splits a comma-separated list of shard URLs, keeping the commas of multi-host URLs', () => {
    expect(splitShardList('postgres://u:p@a:1,b:2/db?target_session_attrs=read-write, postgresql://u:p@c:3/db ,postgres://u:p@d:4,e:5,f:6/db')).toEqual([
      'postgres://u:p@a:1,b:2/db?target_session_attrs=read-write',
      'postgresql://u:p@c:3/db',
      'postgres://u:p@d:4,e:5,f:6/db',
    ]);
    expect(splitShardList('')).toEqual([]);
  });
});
