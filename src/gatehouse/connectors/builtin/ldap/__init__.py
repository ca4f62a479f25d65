"""LDAP and Active Directory: users, groups and memberships over paged searches."""

from gatehouse.connectors.builtin.ldap.connector import LdapConnector

__all__ = ["LdapConnector"]
