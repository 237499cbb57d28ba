"""Writes and reads image data with OpenStack glance_store itself (PyPI, 5.7.0), as glance-api does.

Run with the peer's virtualenv (GlanceStorePeer in TestSupport makes it):

  python glance_store_peer.py CONFIG add  SPEC   SPEC: [{"id": ID, "backend": NAME, "bytes": N, "size_known": BOOL}, ...]
      -> one line `RESULT {"id", "url", "metadata", "size", "sha512"}` per image:
         glance_store.multi_backend.add_with_multihash with the image's data (N pseudo-random
         bytes from the id), size N when known and 0 when not (glance-api's chunked uploads:
         Swift then writes a dynamic large object).
  python glance_store_peer.py CONFIG read SPEC   SPEC: [{"url": URL, "backend": NAME}, ...]
      -> one line `RESULT {"url", "sha512"}` per location, of the data glance_store reads
         back, or `RESULT {"url", "error"}` when it cannot.

SPEC is a JSON file; anything else on the output (glance_store's logging) is not a RESULT line.

CONFIG is a glance-api.conf with enabled_backends and their sections.
"""
import hashlib
import io
import json
import sys

from oslo_config import cfg
from glance_store import multi_backend


def data_of(image_id, size):
    out, block = bytearray(), hashlib.sha512(image_id.encode()).digest()
    while len(out) < size:
        out += block
        block = hashlib.sha512(block).digest()
    return bytes(out[:size])


def main():
    config, command, spec = sys.argv[1], sys.argv[2], sys.argv[3]
    conf = cfg.CONF  # verify_store and the store lookups read the global one
    # glance-api registers enabled_backends itself (glance.common.config), then the stores'.
    conf.register_opt(cfg.DictOpt('enabled_backends'))
    conf(['--config-file', config], project='glance')
    multi_backend.register_store_opts(conf)
    multi_backend.create_multi_stores(conf)
    multi_backend.verify_store()
    with open(spec) as f:
        items = json.load(f)
    for item in items:
        if command == 'add':
            data = data_of(item['id'], item['bytes'])
            size = len(data) if item.get('size_known', True) else 0
            url, written, _checksum, multihash, metadata = multi_backend.add_with_multihash(
                conf, item['id'], io.BytesIO(data), size, item['backend'], 'sha512')
            print('RESULT ' + json.dumps({'id': item['id'], 'url': url, 'metadata': metadata, 'size': written,
                              'sha512': multihash}), flush=True)
        elif command == 'read':
            try:
                reader, _size = multi_backend.get(item['url'], item['backend'])
                digest = hashlib.sha512()
                for chunk in reader:
                    digest.update(chunk)
                print('RESULT ' + json.dumps({'url': item['url'], 'sha512': digest.hexdigest()}), flush=True)
            except Exception as e:  # the caller compares: a missing object is an answer too
                print('RESULT ' + json.dumps({'url': item['url'], 'error': '%s: %s' % (type(e).__name__, e)}), flush=True)
        else:
            sys.exit('unknown command %s' % command)


if __name__ == '__main__':
    main()
