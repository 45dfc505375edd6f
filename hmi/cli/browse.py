"""``gas-hmi browse``: list an OPC UA server's variables as tags a station config can take.

    gas-hmi browse opc.tcp://10.1.2.3:4840 --station demo_city_gate --secret heater_opcua \\
        --user operator --security Basic256Sha256:SignAndEncrypt --device heater --format yaml

The password comes from the keyring (``--secret NAME --station ID``), never from the
command line. A secure connection uses the station's PKI folder (client certificate
generated on first use; the server certificate must be trusted, or pass
``--trust-on-first-use``). The YAML output is a ``tags:`` section: paste it into the
station config and add units, ranges and alarms.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from hmi.cli._common import print_table


def register(sub: Any) -> None:
    """Add the ``browse`` command."""
    p = sub.add_parser("browse", help="list an OPC UA server's variables as station-config tags")
    p.add_argument("endpoint", help="opc.tcp://HOST:PORT[/path]")
    p.add_argument("--station", help="station id (keyring service of --secret; default PKI folder)")
    p.add_argument("--secret", help="name of the keyring secret holding the password of --user")
    p.add_argument("--user", default="", help="user name (anonymous when omitted)")
    p.add_argument(
        "--security",
        default="None",
        help="None, Basic256Sha256:Sign or Basic256Sha256:SignAndEncrypt",
    )
    p.add_argument("--pki-dir", help="PKI folder (default: <station data dir>/pki/browse)")
    p.add_argument(
        "--trust-on-first-use",
        action="store_true",
        help="trust an unknown server certificate and store it",
    )
    p.add_argument(
        "--depth", type=int, default=10, help="levels below the Objects folder (default 10)"
    )
    p.add_argument(
        "--device", default="opcua1", help="device id written into each tag (default opcua1)"
    )
    p.add_argument("--prefix", default="", help="prefix of every tag name")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per request (default 5)")
    p.add_argument("--format", choices=("yaml", "table"), default="yaml")
    p.set_defaults(func=cmd_browse)


def _fail(message: str) -> int:
    print(f"gas-hmi browse: {message}", file=sys.stderr)
    return 1


def cmd_browse(args: argparse.Namespace) -> int:
    """Connect, browse, print."""
    from drivers.opcua.browse import as_tags, browse
    from drivers.opcua.certs import CertificateError, CertStore
    from drivers.opcua.connection import ConnectError, ConnectOptions

    policy, _, mode = args.security.partition(":")
    if policy not in ("None", "Basic256Sha256") or (policy == "None") != (mode in ("", "None")):
        return _fail(
            f"--security {args.security!r}: use None, Basic256Sha256:Sign or Basic256Sha256:SignAndEncrypt"
        )
    if policy != "None" and mode not in ("Sign", "SignAndEncrypt"):
        return _fail(f"--security {args.security!r}: the mode must be Sign or SignAndEncrypt")
    password = ""
    if args.secret:
        if not args.station:
            return _fail("--secret needs --station (the keyring service is per station)")
        from hmi.core.secrets import SecretError, get_secret

        try:
            password = get_secret(args.station, args.secret)
        except SecretError as exc:
            return _fail(str(exc))
    certs = None
    if policy != "None":
        pki = Path(args.pki_dir) if args.pki_dir else None
        if pki is None:
            if not args.station:
                return _fail(
                    "a secure connection needs --pki-dir or --station (for the station's PKI folder)"
                )
            from hmi import paths

            pki = paths.station_data_dir(args.station) / "pki" / "browse"
        certs = CertStore(pki, trust_on_first_use=args.trust_on_first_use)
    opts = ConnectOptions(
        endpoint=args.endpoint,
        security_policy=policy,
        security_mode=mode or "None",
        username=args.user,
        password=password,
        timeout=args.timeout,
        certs=certs,
        application_name="gas-hmi",
    )
    try:
        variables = asyncio.run(browse(opts, args.depth))
    except (ConnectError, CertificateError) as exc:
        return _fail(str(exc))
    tags = as_tags(variables, args.device, args.prefix)
    if args.format == "table":
        print_table(
            ["name", "address", "type", "access", "data type"],
            [
                [t["name"], t["address"], t["type"], t["access"], v.data_type]
                for t, v in zip(tags, variables, strict=True)
            ],
        )
        print(f"{len(tags)} variables", file=sys.stderr)
        return 0
    import yaml

    print(
        f"# {len(tags)} variables of {args.endpoint} (gas-hmi browse); add units, ranges and alarms"
    )
    sys.stdout.write(yaml.safe_dump({"tags": tags}, allow_unicode=True, sort_keys=False, width=120))
    return 0
