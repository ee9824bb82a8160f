# Permissive: the all-or-nothing sharing most legacy systems implement, kept
# to show the contrast with field-level contracts.
#
# Any sworn officer -- local, state or federal police, and civil immigration
# officers, who are sworn federal officers -- searching for any purpose learns
# everything the record holds, whole. Only citizenship and country of birth
# are withheld. Corrections and prosecution learn nothing. Sealed, juvenile and
# expunged records are never disclosed.
package fieldgate.contracts.permissive

import rego.v1

import data.fieldgate.lib.sharing

default decision := {"disclose": false, "release": set(), "mask": {}}

decision := {"disclose": true, "release": release, "mask": {}, "reasons": reasons} if {
	sharing.record_unrestricted
	sharing.is_sworn
}

# Every field the record holds, except immigration status. A field missing
# from the catalog has no class and is not released.
release := {f |
	some f in input.record.fields
	data.catalog[f] != "immigration_status"
}

reasons := {f: "released whole to every sworn officer" | some f in release}
