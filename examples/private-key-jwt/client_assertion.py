#!/usr/bin/env python3
"""A private_key_jwt client for Gatehouse (RFC 7523 §2.2), with the `cryptography` package only.

    python3 client_assertion.py keygen              # writes client-key.pem, prints the JWK set
    python3 client_assertion.py assert CLIENT_ID AUD  # prints a fresh client assertion (ES256)

Register the printed JWK set (`gatehouse client create ... --auth-method private_key_jwt
--jwks-file jwks.json`); then send each request with
`client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and
`client_assertion=<a fresh assertion>`, whose `aud` is the issuer (or the endpoint's URL).
"""

import base64
import hashlib
import json
import sys
import time
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

KEY_FILE = "client-key.pem"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict:
    numbers = key.public_key().public_numbers()
    jwk = {"crv": "P-256", "kty": "EC",
           "x": b64(numbers.x.to_bytes(32, "big")), "y": b64(numbers.y.to_bytes(32, "big"))}
    # RFC 7638 thumbprint as the kid (the members above, in this order, no spaces).
    thumbprint = hashlib.sha256(json.dumps(jwk, separators=(",", ":")).encode()).digest()
    return {**jwk, "kid": b64(thumbprint), "alg": "ES256", "use": "sig"}


def keygen() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    with open(KEY_FILE, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    print(json.dumps({"keys": [public_jwk(key)]}))


def assertion(client_id: str, aud: str) -> str:
    with open(KEY_FILE, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    now = int(time.time())
    header = {"alg": "ES256", "typ": "JWT", "kid": public_jwk(key)["kid"]}
    claims = {"iss": client_id, "sub": client_id, "aud": aud,
              "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())}
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    # JWS wants the raw r || s (RFC 7518 §3.4), not the DER the library returns.
    return signing_input + "." + b64(r.to_bytes(32, "big") + s.to_bytes(32, "big"))


if __name__ == "__main__":
    if sys.argv[1:2] == ["keygen"]:
        keygen()
    elif sys.argv[1:2] == ["assert"] and len(sys.argv) == 4:
        print(assertion(sys.argv[2], sys.argv[3]))
    else:
        sys.exit(__doc__)
