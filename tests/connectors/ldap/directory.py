"""A real OpenLDAP slapd for tests and benchmarks: two directories, TLS, memberOf, sorting.

`dc=example,dc=org` is an OpenLDAP-shaped directory (inetOrgPerson, groupOfNames, the memberof
and sssvlv overlays). `dc=corp,dc=example,dc=com` is shaped like Active Directory: slapd has no
AD schema, so a small one (objectGUID, objectSid, sAMAccountName, userPrincipalName,
userAccountControl, whenChanged, ...) is loaded, with memberof maintaining memberOf for AD's
`group` class and no sort overlay (so both sorted and unsorted paged reads are exercised).
The certificate authority and the server certificate (for `localhost` only) are made here.
"""

from __future__ import annotations

import datetime
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import slapd
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

OPENLDAP_BASE = "dc=example,dc=org"
AD_BASE = "dc=corp,dc=example,dc=com"
ADMIN_PASSWORD = "admin-secret"
PEERCRED = f"gidNumber={os.getgid()}+uidNumber={os.getuid()},cn=peercred,cn=external,cn=auth"

AD_SCHEMA = """dn: cn=adshape,cn=schema,cn=config
objectClass: olcSchemaConfig
cn: adshape
olcAttributeTypes: ( 1.2.840.113556.1.4.2 NAME 'objectGUID' EQUALITY octetStringMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
olcAttributeTypes: ( 1.2.840.113556.1.4.146 NAME 'objectSid' EQUALITY octetStringMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.40 SINGLE-VALUE )
olcAttributeTypes: ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch
  SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcAttributeTypes: ( 1.2.840.113556.1.4.656 NAME 'userPrincipalName' EQUALITY caseIgnoreMatch
  SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcAttributeTypes: ( 1.2.840.113556.1.4.8 NAME 'userAccountControl' EQUALITY integerMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
olcAttributeTypes: ( 1.2.840.113556.1.4.750 NAME 'groupType' EQUALITY integerMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
olcAttributeTypes: ( 1.2.840.113556.1.4.159 NAME 'accountExpires' EQUALITY integerMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
olcAttributeTypes: ( 1.2.840.113556.1.4.96 NAME 'pwdLastSet' EQUALITY integerMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
olcAttributeTypes: ( 1.2.840.113556.1.2.2 NAME 'whenCreated' EQUALITY generalizedTimeMatch
  ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE )
olcAttributeTypes: ( 1.2.840.113556.1.2.3 NAME 'whenChanged' EQUALITY generalizedTimeMatch
  ORDERING generalizedTimeOrderingMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.24 SINGLE-VALUE )
olcAttributeTypes: ( 1.2.840.113556.1.2.141 NAME 'department' EQUALITY caseIgnoreMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
olcObjectClasses: ( 1.2.840.113556.1.5.9 NAME 'user' SUP organizationalPerson STRUCTURAL
  MAY ( objectGUID $ objectSid $ sAMAccountName $ userPrincipalName $ userAccountControl $
  accountExpires $ pwdLastSet $ whenCreated $ whenChanged $ mail $ displayName $ givenName $
  employeeNumber $ department ) )
olcObjectClasses: ( 1.2.840.113556.1.3.30 NAME 'computer' SUP user STRUCTURAL )
olcObjectClasses: ( 1.2.840.113556.1.5.8 NAME 'group' SUP top STRUCTURAL MUST cn
  MAY ( member $ objectGUID $ objectSid $ sAMAccountName $ groupType $ whenCreated $
  whenChanged $ description $ mail ) )
"""

CONFIG = """dn: cn=config
objectClass: olcGlobal
cn: config
olcLogLevel: 0
olcSizeLimit: unlimited
olcTLSCACertificateFile: %(cafile)s
olcTLSCertificateFile: %(servercert)s
olcTLSCertificateKeyFile: %(serverkey)s

dn: cn=module,cn=config
objectClass: olcModuleList
cn: module
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: sssvlv

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema
"""

DATABASES = """dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcAccess: {0}to dn.base="" by * read
olcAccess: {1}to dn.base="cn=subschema" by * read

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by dn.exact="%(peercred)s" manage by * none
"""

DATABASE = """dn: olcDatabase={%(index)d}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {%(index)d}mdb
olcSuffix: %(suffix)s
olcRootDN: cn=admin,%(suffix)s
olcRootPW: %(rootpw)s
olcDbDirectory: %(directory)s
olcDbMaxSize: 4000000000
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcDbIndex: entryUUID eq
olcAccess: {0}to attrs=userPassword by dn.exact="%(peercred)s" manage by self write
  by anonymous auth by * none
olcAccess: {1}to * by dn.exact="%(peercred)s" manage
  by dn.exact="uid=blind,ou=services,%(suffix)s" none
  by users read by * none

dn: olcOverlay={0}memberof,olcDatabase={%(index)d}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfRefInt: TRUE
olcMemberOfGroupOC: %(group_class)s
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf
"""

SORT_OVERLAY = """dn: olcOverlay={1}sssvlv,olcDatabase={%(index)d}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcSssVlvConfig
olcOverlay: {1}sssvlv
"""

SCHEMAS = ("core.ldif", "cosine.ldif", "inetorgperson.ldif", "nis.ldif")


@dataclass(frozen=True)
class Certificates:
    """A throwaway CA and a server certificate for `localhost` (not for 127.0.0.1)."""

    ca_pem: str
    cafile: Path
    servercert: Path
    serverkey: Path
    other_ca_pem: str  # a CA that signed nothing here: verification against it must fail


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_certificates(directory: Path) -> Certificates:
    """Generate the CA, the server key and certificate into `directory`."""
    ca_key, ca_cert = _ca("Gatehouse test CA")
    _, other_cert = _ca("Some other CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    # libldap checks "localhost" against the machine's own name, so the certificate names both
    names = sorted({"localhost", socket.gethostname()})
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .add_extension(x509.ExtendedKeyUsage([x509.OID_SERVER_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = Certificates(
        ca_pem=ca_cert.public_bytes(pem).decode(),
        cafile=directory / "ca.pem",
        servercert=directory / "server.pem",
        serverkey=directory / "server.key",
        other_ca_pem=other_cert.public_bytes(pem).decode(),
    )
    paths.cafile.write_text(paths.ca_pem)
    paths.servercert.write_bytes(cert.public_bytes(pem))
    paths.serverkey.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def slapd_missing() -> str | None:
    """Why slapd cannot run here, or None when it can."""
    for command in ("slapd", "slapadd", "ldapadd"):
        if shutil.which(command, path=slapd.Slapd.SBIN_PATH) is None:
            return f"{command} not found (apt-get install slapd ldap-utils)"
    return None


class Directory(slapd.Slapd):  # type: ignore[misc]
    """slapd on a free loopback port (ldap:// and ldaps://) with the two test directories."""

    def __init__(self, root: Path, *, seed: dict[str, str] | None = None) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.certs = make_certificates(root)
        self.root = root
        self.seed = seed or {}  # suffix -> LDIF, loaded offline with slapadd before start
        super().__init__(
            host="127.0.0.1",
            suffix=OPENLDAP_BASE,
            root_cn="admin",
            root_pw=ADMIN_PASSWORD,
            schemas=SCHEMAS,
            datadir_prefix=str(root / "slapd"),
            debug=False,
        )
        self.cafile = str(self.certs.cafile)
        self.servercert = str(self.certs.servercert)
        self.serverkey = str(self.certs.serverkey)
        self.tls_port = self._avail_tcpport()
        self.ldaps_uri = f"ldaps://localhost:{self.tls_port}"
        self.uri = f"ldap://127.0.0.1:{self.port}"
        self.tls_uri = f"ldap://localhost:{self.port}"  # the name the certificate is for

    def _write_config(self) -> None:
        """cn=config: globals and modules, the schemas, then the two databases."""
        values: dict[str, Any] = {
            "cafile": self.cafile,
            "servercert": self.servercert,
            "serverkey": self.serverkey,
            "peercred": PEERCRED,
            "rootpw": ADMIN_PASSWORD,
        }
        parts = [CONFIG % values]
        parts += [Path(self.SCHEMADIR, schema).read_text() for schema in SCHEMAS]
        parts += [AD_SCHEMA, DATABASES % values]
        for index, (suffix, group_class, sort) in enumerate(
            [(OPENLDAP_BASE, "groupOfNames", True), (AD_BASE, "group", False)], start=1
        ):
            directory = Path(self.testrundir) / f"db{index}"
            directory.mkdir()
            db = {**values, "index": index, "suffix": suffix, "directory": directory}
            parts.append(DATABASE % {**db, "group_class": group_class})
            if sort:
                parts.append(SORT_OVERLAY % db)
        self.slapadd("\n".join(part.strip() + "\n" for part in parts), ["-n0"])
        for suffix, ldif in self.seed.items():
            self.slapadd(ldif, ["-q", "-b", suffix])

    def _start_slapd(self) -> None:
        """Listen on ldap:// and ldaps:// for all of localhost's addresses, and on ldapi://."""
        urls = f"ldap://localhost:{self.port}/ ldaps://localhost:{self.tls_port}/ {self.ldapi_uri}"
        self._proc = subprocess.Popen(
            [self.PATH_SLAPD, "-F", self._slapd_conf, "-h", urls, "-d", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        import time

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"slapd exited with {self._proc.returncode}")
            try:
                self.ldapwhoami()
                return
            except RuntimeError:
                time.sleep(0.1)
        raise RuntimeError("slapd did not answer within 15 s")

    def add(self, ldif: str) -> None:
        """Add entries (as the local root, over ldapi://)."""
        self.ldapadd(ldif)

    def modify(self, ldif: str) -> None:
        """Apply an LDIF change (as the local root, over ldapi://)."""
        self.ldapmodify(ldif)
