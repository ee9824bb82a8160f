# Permissive: the all-or-nothing sharing most legacy systems implement, kept
# to show the contrast with field-level contracts.
#
# Any sworn officer -- local, state or federal police, and civil immigration
# officers, who are sworn federal officers -- searching for any purpose learns
# everything the record holds, whole. Only citizenship and country of birth
# are withheld. Corrections and prosecution learn nothing. Sealed, juvenile and
# expunged records are never disclosed.
#
# The "# clause:" comments name the clause of the (sample) regional exchange
# agreement each rule carries out; `fieldgate contract render` lists them.
package fieldgate.contracts.permissive

import rego.v1

import data.fieldgate.lib.sharing

# Each field's verdict depends only on whether the record holds it, never on
# which other fields it holds, and disclosure on no field at all: the node may
# ask once per kind of requester and record instead of once per record
# (docs/contracts.md, "Field-local contracts"). The node checks this before it
# relies on it; `fieldgate contract check` checks it harder.
field_local := true

default decision := {"disclose": false, "release": set(), "mask": {}}

decision := {"disclose": true, "release": release, "mask": {}, "reasons": reasons} if {
	sharing.record_unrestricted
	sworn_member
}

# clause: Sample regional exchange agreement §5.1 — every sworn member receives all legally sharable information
sworn_member if sharing.is_sworn

# clause: Sample regional exchange agreement §5.3 — citizenship and country of birth are not legally sharable
never_shared_classes := {"immigration_status"}

# Every field the record holds, except immigration status. A field missing
# from the catalog has no class and is not released.
release := {f |
	some f in input.record.fields
	cls := data.catalog[f]
	not cls in never_shared_classes
}

reasons := {f: "released whole to every sworn officer" | some f in release}
