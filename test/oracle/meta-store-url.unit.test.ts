import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import { parseEtcdUrl } from '../../src/oracle/etcd-meta-store.js';
import { openMetaStore } from '../../src/oracle/meta-store.js';

describe('meta store URLs', () => {
  it('an etcd URL names the client endpoints and the key prefix', () => {
    expect(parseEtcdUrl('etcd://h1:2379,h2:2379,[::1]:2379')).toEqual({ hosts: ['http://h1:2379', 'http://h2:2379', 'http://[::1]:2379'], prefix: '/percolator/oracle/', auth: undefined });
    expect(parseEtcdUrl('etcd://10.0.0.1:2379/tso/eu/')).toMatchObject({ prefix: '/tso/eu/' });
    expect(parseEtcdUrl('etcd://oracle:s%40cret@h1:2379')).toMatchObject({ auth: { username: 'oracle', password: 's@cret' } });
  });

  it('an etcds URL dials the members over TLS, with the files etcdctl would take', () => {
    expect(parseEtcdUrl('etcds://h1:2379,h2:2379/tso?cacert=/pki/ca.pem&cert=/pki/c.pem&key=/pki/c.key')).toEqual({
      hosts: ['https://h1:2379', 'https://h2:2379'],
      prefix: '/tso/',
      auth: undefined,
      tls: { cacert: '/pki/ca.pem', cert: '/pki/c.pem', key: '/pki/c.key' },
    });
    expect(parseEtcdUrl('etcds://h1:2379')).toMatchObject({ hosts: ['https://h1:2379'], tls: { cacert: undefined, cert: undefined, key: undefined } });
    // A path is percent-decoded only: a '+' stays a '+'.
    expect(parseEtcdUrl('etcds://h1:2379?cacert=/pki/a+b%20c.pem').tls).toMatchObject({ cacert: '/pki/a+b c.pem' });
    for (const url of ['etcds://h1:2379?cert=/c.pem', 'etcds://h1:2379?ca=/ca.pem', 'etcd://h1:2379?cacert=/ca.pem', 'etcds://h1:2379?cacert=/a&cacert=/b']) {
      expect(() => parseEtcdUrl(url), url).toThrow(InvalidInputError);
    }
  });

  it('a password may hold any character; refusals never show it', () => {
    expect(parseEtcdUrl('etcd://u:p:s/s@h1:2379,h2:2379/x')).toMatchObject({ auth: { username: 'u', password: 'p:s/s' }, hosts: ['http://h1:2379', 'http://h2:2379'], prefix: '/x/' });
    expect(parseEtcdUrl('etcd://u:p%40ss@h1:2379')).toMatchObject({ auth: { password: 'p@ss' } });
    for (const url of ['etcd://u:p:ss@h1:2379/x?z', 'etcd://u:se/cret@h1', 'etcd://u:hunter2@h1:2379?x=1', 'etcd://u:hunter2@h1:2379,h2', 'etcd://u:hunter2%zz@h1:2379']) {
      let message = '';
      try {
        parseEtcdUrl(url);
      } catch (error) {
        expect(error, url).toBeInstanceOf(InvalidInputError);
        message = (error as Error).message;
      }
      expect(message, url).not.toBe('');
      expect(message, url).not.toMatch(/hunter2|cret|p:ss|:p:/);
    }
  });

  it('refuses what it cannot use, with the password hidden', () => {
    for (const url of ['etcd://', 'etcd://h1', 'etcd://h1:2379,h2', 'etcd://h1:2379?x=1', 'etcd://user@h1:2379']) {
      expect(() => parseEtcdUrl(url), url).toThrow(InvalidInputError);
    }
    expect(() => parseEtcdUrl('etcd://u:hunter2@h1:2379?x=1')).toThrow(/u:\*\*\*@h1/);
  });

  it('a --meta URL of another scheme is refused before anything is dialled', async () => {
    const options = { logger: silentLogger, queryTimeoutMs: 500, startTimeoutMs: 0 };
    await expect(openMetaStore('mysql://h1/db', options)).rejects.toThrow(/must start with postgres:\/\/, etcd:\/\/ or etcds:\/\//);
    await expect(openMetaStore('h1:2379', options)).rejects.toBeInstanceOf(InvalidInputError);
  });
});
