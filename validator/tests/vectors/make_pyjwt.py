#!/usr/bin/env python3
"""Mints access tokens with PyJWT (an implementation nobody on this project wrote) into
pyjwt.json, with the verdict Gatehouse's validator must reach on each.

    pip install pyjwt cryptography && python3 make_pyjwt.py > pyjwt.json

The file is committed: the Rust test (`../independent.rs`) reads it and needs no Python.
"""
import base64
import hashlib
import json

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

ISS = "https://as.example"
AUD = "https://mcp.example.com/mcp"
NOW = 1_800_000_000


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(jwk: dict) -> str:
    members = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}[jwk["kty"]]
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64(hashlib.sha256(canonical.encode()).digest())


def keypair(alg: str):
    if alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
        public = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    elif alg == "ES384":
        private = ec.generate_private_key(ec.SECP384R1())
        public = json.loads(ECAlgorithm.to_jwk(private.public_key()))
    elif alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
        public = json.loads(OKPAlgorithm.to_jwk(private.public_key()))
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    public = {k: v for k, v in public.items() if k in ("kty", "crv", "x", "y", "n", "e")}
    public["kid"] = thumbprint(public)
    public["alg"] = alg
    public["use"] = "sig"
    return private, public


def claims(**changes):
    base = {
        "iss": ISS,
        "sub": "pyjwt-client",
        "aud": AUD,
        "client_id": "pyjwt-client",
        "scope": "tools:read",
        "iat": NOW - 10,
        "exp": NOW + 3600,
        "jti": "pyjwt-" + hashlib.sha256(json.dumps(changes, sort_keys=True).encode()).hexdigest()[:16],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def main():
    vectors = []
    for alg in ("ES256", "ES384", "EdDSA", "PS256", "RS256"):
        private, public = keypair(alg)
        other, _ = keypair(alg)
        header = {"kid": public["kid"], "typ": "at+jwt"}

        def add(name, token, expect):
            vectors.append({"name": f"{alg} {name}", "jwk": public, "token": token, "expect": expect})

        add("valid", jwt.encode(claims(), private, algorithm=alg, headers=header), "valid")
        add("aud array containing the resource", jwt.encode(claims(aud=["https://x.example", AUD]), private, algorithm=alg, headers=header), "valid")
        add("application/at+jwt", jwt.encode(claims(), private, algorithm=alg, headers={**header, "typ": "application/at+jwt"}), "valid")
        add("expired", jwt.encode(claims(exp=NOW - 3600, iat=NOW - 7200), private, algorithm=alg, headers=header), "Expired")
        add("typ JWT (an ID token)", jwt.encode(claims(), private, algorithm=alg, headers={**header, "typ": "JWT"}), "WrongType")
        add("wrong issuer", jwt.encode(claims(iss="https://evil.example"), private, algorithm=alg, headers=header), "WrongIssuer")
        add("wrong audience", jwt.encode(claims(aud="https://other.example"), private, algorithm=alg, headers=header), "WrongAudience")
        add("signed by another key, same kid", jwt.encode(claims(), other, algorithm=alg, headers=header), "BadSignature")
        add("string exp", jwt.encode(claims(exp=str(NOW + 3600)), private, algorithm=alg, headers=header), "Malformed")
        add("jku header", jwt.encode(claims(), private, algorithm=alg, headers={**header, "jku": "https://evil.example/jwks"}), "Header")
        if alg == "RS256":
            add("PS256 with an RS256 key", jwt.encode(claims(), private, algorithm="PS256", headers=header), "AlgorithmMismatch")
        if alg == "PS256":
            add("RS256 with a PS256 key", jwt.encode(claims(), private, algorithm="RS256", headers=header), "AlgorithmMismatch")
    json.dump({"generator": f"PyJWT {jwt.__version__}", "issuer": ISS, "audience": AUD, "now": NOW, "vectors": vectors}, sys.stdout, indent=1)


if __name__ == "__main__":
    import sys

    main()
