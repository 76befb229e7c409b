import { describe, expect, it } from 'vitest';
import { clearTextTokenAddresses } from '../../src/client/oracle-option.js';

describe('a token sent without TLS', () => {
  it('is flagged for every non-loopback address, and only without TLS', () => {
    const addresses = ['127.0.0.1:7070', 'localhost:7071', '[::1]:7072', 'oracle-1.internal:7070', '10.0.0.5:7070'];
    expect(clearTextTokenAddresses({ addresses, token: 't' })).toEqual(['oracle-1.internal:7070', '10.0.0.5:7070']);
    expect(clearTextTokenAddresses({ addresses, token: 't', tls: { ca: 'pem' } })).toEqual([]);
    expect(clearTextTokenAddresses({ addresses })).toEqual([]);
  });
});
