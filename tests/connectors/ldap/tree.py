"""The entries the tests read: an OpenLDAP-shaped tree and an Active-Directory-shaped one."""

from __future__ import annotations

import base64
import uuid

from tests.connectors.ldap.directory import AD_BASE, OPENLDAP_BASE

PEOPLE = f"ou=people,{OPENLDAP_BASE}"
GROUPS = f"ou=groups,{OPENLDAP_BASE}"
SERVICES = f"ou=services,{OPENLDAP_BASE}"
READER_DN = f"uid=reader,{SERVICES}"
READER_PASSWORD = "reader-pass-7Q"
BLIND_DN = f"uid=blind,{SERVICES}"
BLIND_PASSWORD = "blind-pass-3Z"

STAFF = f"ou=Staff,{AD_BASE}"
AD_GROUPS = f"ou=Groups,{AD_BASE}"
SVC_DN = f"cn=svc-gatehouse,ou=Service Accounts,{AD_BASE}"
SVC_PASSWORD = "svc-pass-9K"

GUIDS = {
    "erin": uuid.UUID("6f9619ff-8b86-d011-b42d-00c04fc964ff"),
    "frank": uuid.UUID("0b1d4c5e-2f3a-4b6c-9d8e-7f6a5b4c3d2e"),
    "grace": uuid.UUID("c0ffee00-1234-4abc-8def-0123456789ab"),
    "ws01": uuid.UUID("deadbeef-0000-4000-8000-000000000001"),
    "staff": uuid.UUID("5a5a5a5a-1111-4222-8333-444455556666"),
    "admins": uuid.UUID("a1a1a1a1-2222-4333-8444-555566667777"),
    "svc": uuid.UUID("51c51c51-3333-4444-8555-666677778888"),
}
ERIN_SID = "S-1-5-21-1004336348-1177238915-682003330-1105"


def sid_bytes(text: str) -> bytes:
    """A SID string as its binary form."""
    parts = text.split("-")
    subs = [int(p) for p in parts[3:]]
    head = bytes([int(parts[1]), len(subs)]) + int(parts[2]).to_bytes(6, "big")
    return head + b"".join(s.to_bytes(4, "little") for s in subs)


def b64(raw: bytes) -> str:
    """Base64 for LDIF `attr:: value` lines."""
    return base64.b64encode(raw).decode()


def guid(name: str) -> str:
    """An objectGUID LDIF value (little-endian bytes, base64)."""
    return b64(GUIDS[name].bytes_le)


OPENLDAP_TREE = f"""dn: {OPENLDAP_BASE}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: {PEOPLE}
objectClass: organizationalUnit
ou: people

dn: {GROUPS}
objectClass: organizationalUnit
ou: groups

dn: {SERVICES}
objectClass: organizationalUnit
ou: services

dn: {READER_DN}
objectClass: inetOrgPerson
uid: reader
cn: Gatehouse reader
sn: reader
userPassword: {READER_PASSWORD}

dn: {BLIND_DN}
objectClass: inetOrgPerson
uid: blind
cn: Blind account
sn: blind
userPassword: {BLIND_PASSWORD}

dn: uid=alice,{PEOPLE}
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
givenName: Alice
mail: alice@example.org
employeeNumber: 1001
telephoneNumber: +44 20 7946 0001
userPassword: alice-password

dn: uid=bob,{PEOPLE}
objectClass: inetOrgPerson
uid: bob
cn: Bob Builder
sn: Builder
givenName: Bob
mail: bob@example.org
mail: robert@example.org
displayName: Bob the Builder

dn: uid=carol,{PEOPLE}
objectClass: inetOrgPerson
uid: carol
cn: Carol Danvers
sn: Danvers
mail: carol@example.org

dn: uid=dave,{PEOPLE}
objectClass: inetOrgPerson
uid: dave
cn: Dave Lister
sn: Lister

dn: cn=platform,{GROUPS}
objectClass: groupOfNames
cn: platform
member: uid=carol,{PEOPLE}

dn: cn=engineering,{GROUPS}
objectClass: groupOfNames
cn: engineering
description: Builds things
member: uid=alice,{PEOPLE}
member: uid=bob,{PEOPLE}
member: cn=platform,{GROUPS}

dn: cn=everyone,{GROUPS}
objectClass: groupOfNames
cn: everyone
member: uid=alice,{PEOPLE}
member: uid=bob,{PEOPLE}
member: uid=carol,{PEOPLE}
member: uid=dave,{PEOPLE}
member: cn=engineering,{GROUPS}

dn: cn=ghosts,{GROUPS}
objectClass: groupOfNames
cn: ghosts
member: uid=ghost,{PEOPLE}
member: UID=Alice, OU=People, DC=Example, DC=Org
"""

AD_TREE = f"""dn: {AD_BASE}
objectClass: dcObject
objectClass: organization
dc: corp
o: Corp

dn: {STAFF}
objectClass: organizationalUnit
ou: Staff

dn: {AD_GROUPS}
objectClass: organizationalUnit
ou: Groups

dn: ou=Service Accounts,{AD_BASE}
objectClass: organizationalUnit
ou: Service Accounts

dn: {SVC_DN}
objectClass: user
cn: svc-gatehouse
sn: svc
sAMAccountName: svc-gatehouse
userAccountControl: 66048
objectGUID:: {guid("svc")}
whenChanged: 20240101000000.0Z
userPassword: {SVC_PASSWORD}

dn: cn=Erin Example,{STAFF}
objectClass: user
cn: Erin Example
sn: Example
givenName: Erin
displayName: Erin Example
mail: erin@corp.example.com
department: Finance
sAMAccountName: erin
userPrincipalName: erin@corp.example.com
userAccountControl: 512
objectGUID:: {guid("erin")}
objectSid:: {b64(sid_bytes(ERIN_SID))}
whenCreated: 20240101090000.0Z
whenChanged: 20240301120000.0Z
pwdLastSet: 133542000000000000
accountExpires: 9223372036854775807

dn: cn=Frank Fischer,{STAFF}
objectClass: user
cn: Frank Fischer
sn: Fischer
sAMAccountName: frank
userPrincipalName: frank@corp.example.com
userAccountControl: 514
objectGUID:: {guid("frank")}
whenChanged: 20240302120000.0Z
accountExpires: 0

dn: cn=Grace Hopper,{STAFF}
objectClass: user
cn: Grace Hopper
sn: Hopper
sAMAccountName: grace
userPrincipalName: grace@corp.example.com
userAccountControl: 66048
objectGUID:: {guid("grace")}
whenChanged: 20240303120000.0Z

dn: cn=WS01,{STAFF}
objectClass: computer
cn: WS01
sn: WS01
sAMAccountName: WS01$
userAccountControl: 4096
objectGUID:: {guid("ws01")}
whenChanged: 20240304120000.0Z

dn: cn=Admins,{AD_GROUPS}
objectClass: group
cn: Admins
groupType: -2147483646
sAMAccountName: Admins
objectGUID:: {guid("admins")}
member: cn=Grace Hopper,{STAFF}
whenChanged: 20240305120000.0Z

dn: cn=Staff,{AD_GROUPS}
objectClass: group
cn: Staff
groupType: -2147483646
sAMAccountName: Staff
objectGUID:: {guid("staff")}
member: cn=Erin Example,{STAFF}
member: cn=Frank Fischer,{STAFF}
member: cn=Admins,{AD_GROUPS}
whenChanged: 20240306120000.0Z
"""
