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
    for (const url of ['etcds://h1:2379?cert=/c.pem', 'etcds://h1:2379?ca=/ca.pem', 'etcd://h1:2379?cacert=/ca.pem']) {
      expect(() => parseEtcdUrl(url), url).toThrow(InvalidInputError);
    }
  });

  it('refuses what it cannot use, with the password hidden', () => {
    for (const url of ['etcd://', 'etcd://h1', 'etcd://h1:2379,h2', 'etcd://h1:2379?x=1']) {
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
