# Pointer only: criminal investigators learn that we hold a record and whom to
# call about it -- nothing else. The node sends the pointer contact (agency,
# unit, phone) with every disclosed record; this contract releases no field.
#
# Everyone else learns nothing, not even that the record exists. Sealed,
# juvenile and expunged records are never disclosed.
#
# The "# clause:" comment names the clause of the (sample) pointer-index
# agreement the rule carries out; `fieldgate contract render` lists it.
package fieldgate.contracts.pointer_only

import rego.v1

import data.fieldgate.lib.sharing

# Each field's verdict depends only on whether the record holds it, never on
# which other fields it holds, and disclosure on no field at all: the node may
# ask once per kind of requester and record instead of once per record
# (docs/contracts.md, "Field-local contracts"). The node checks this before it
# relies on it; `fieldgate contract check` checks it harder.
field_local := true

default decision := {"disclose": false, "release": set(), "mask": {}}

decision := {"disclose": true, "release": set(), "mask": {}} if {
	sharing.record_unrestricted
	criminal_investigator
}

# clause: Sample pointer-index agreement §1 — criminal investigators learn that a record is held and whom to call, nothing else
criminal_investigator if {
	sharing.is_criminal_law_enforcement
	input.requester.purpose in investigative_purposes

	# Implied by the lines above; stated so that no later edit of the
	# purposes can let immigration enforcement in.
	not sharing.immigration_context
}

investigative_purposes := {"criminal_investigation", "missing_person"}
