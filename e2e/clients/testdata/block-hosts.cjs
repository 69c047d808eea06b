// Preloaded (NODE_OPTIONS=--require) into a Node client whose start-up
// request cannot be turned off by any setting: the host names listed in
// E2E_BLOCK_HOSTS (comma-separated) fail to resolve inside the process, as
// on a machine without them, so the request never leaves it. Every other
// lookup goes on as usual, and the suite's network guard still fails the
// case on any of them.
'use strict';
const dns = require('node:dns');
const blocked = new Set((process.env.E2E_BLOCK_HOSTS || '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean));
const notFound = (host) => Object.assign(new Error(`getaddrinfo ENOTFOUND ${host} (blocked by the e2e suite)`), { code: 'ENOTFOUND', hostname: host });
const lookup = dns.lookup;
dns.lookup = function (host, options, callback) {
  if (typeof options === 'function') [options, callback] = [{}, options];
  if (blocked.has(String(host).toLowerCase())) return process.nextTick(callback, notFound(host));
  return lookup.call(this, host, options, callback);
};
const plookup = dns.promises.lookup;
dns.promises.lookup = function (host, options) {
  if (blocked.has(String(host).toLowerCase())) return Promise.reject(notFound(host));
  return plookup.call(this, host, options);
};
