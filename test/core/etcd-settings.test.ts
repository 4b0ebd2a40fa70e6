/** `--etcd` and its companions: what a gateway and a backend accept, and the errors for what they refuse. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_ETCD_PREFIX, etcdSettingsFrom, nodeKey } from '../../core/etcd-settings.js';

describe('etcd settings from flags', () => {
  it('is off without --etcd, and takes endpoints, prefix, TLS files and a user with the password from the environment', () => {
    expect(etcdSettingsFrom({}, {})).toBeUndefined();
    expect(etcdSettingsFrom({ etcd: 'http://10.0.0.1:2379, https://etcd-2:2379' }, {})).toEqual({
      hosts: ['http://10.0.0.1:2379', 'https://etcd-2:2379'], prefix: DEFAULT_ETCD_PREFIX,
      caFile: undefined, certFile: undefined, keyFile: undefined, user: undefined, password: undefined,
    });
    expect(etcdSettingsFrom(
      { etcd: '127.0.0.1:2379', 'etcd-prefix': '/prod/', 'etcd-ca': 'ca.pem', 'etcd-cert': 'c.pem', 'etcd-key': 'k.pem', 'etcd-user': 'gw' },
      { ETCD_PASSWORD: 's3cret' },
    )).toMatchObject({ prefix: '/prod/', caFile: 'ca.pem', certFile: 'c.pem', keyFile: 'k.pem', user: 'gw', password: 's3cret' });
    expect(nodeKey('/prod/', 'gpu-7:8000')).toBe('/prod/nodes/gpu-7:8000');
  });

  it('names the flag that is wrong', () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ etcd: '' }, /--etcd expects/],
      [{ etcd: 'ftp://x:1' }, /--etcd expects http\(s\):\/\/host:port/],
      [{ etcd: 'http://x:1', 'etcd-prefix': 'infergate' }, /--etcd-prefix must start and end with '\/'/],
      [{ etcd: 'http://x:1', 'etcd-cert': 'c.pem' }, /--etcd-cert and --etcd-key go together/],
      [{ etcd: 'http://x:1', 'etcd-user': 'u' }, /ETCD_PASSWORD/],
      [{ 'etcd-ca': 'ca.pem' }, /--etcd-ca needs --etcd/],
    ];
    for (const [values, message] of bad) expect(() => etcdSettingsFrom(values, {})).toThrow(message);
  });
});
