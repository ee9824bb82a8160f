# Sanctuary county: share with criminal investigators, not with civil
# immigration enforcement.
#
#   * Criminal investigators -- local, state or federal law enforcement
#     searching for a criminal investigation or a missing person -- learn who
#     the person is, what they look like, their criminal history and whom to
#     call here. The address goes out as city and state only, the phone as its
#     last four digits. Photographs, custody details and the full address need
#     a judge's warrant.
#   * Civil immigration enforcement -- an immigration agency, or anyone
#     searching for a civil immigration purpose -- learns nothing, not even that
#     we hold a record, unless it presents a criminal judicial warrant that
#     applies to this record. Then it learns exactly what the warrant covers,
#     and whom to call.
#   * Citizenship and country of birth are never shared, warrant or not.
#   * Sealed, juvenile and expunged records are never disclosed.
#   * Everyone else (corrections, prosecution, background checks) learns nothing.
#
# The "# clause:" comments name the clause of the county's ordinance each rule
# carries out (the ordinance here is a sample); `fieldgate contract render`
# lists them beside the plain-language summary.
package fieldgate.contracts.sanctuary_county

import rego.v1

import data.fieldgate.lib.sharing

# Each field's verdict depends only on whether the record holds it, never on
# which other fields it holds, and disclosure on no field at all: the node may
# ask once per kind of requester and record instead of once per record
# (docs/contracts.md, "Field-local contracts"). The node checks this before it
# relies on it; `fieldgate contract check` checks it harder.
field_local := true

default decision := {"disclose": false, "release": set(), "mask": {}}

decision := {"disclose": true, "release": release, "mask": mask, "reasons": reasons} if {
	sharing.record_unrestricted
	may_know_record_exists

	# Implied by may_know_record_exists; stated so that the ordinance's bar is
	# a rule of its own that no later edit of the doors above can get round.
	not withheld_from_immigration_enforcement
}

# --- Who may learn that the record exists -----------------------------------

may_know_record_exists if criminal_investigator

may_know_record_exists if immigration_enforcement_with_warrant

investigative_purposes := {"criminal_investigation", "missing_person"}

# clause: Sample sanctuary ordinance §2(a) — criminal investigators (local, state and federal law enforcement, for a criminal investigation or a missing person) may receive identity, physical description, criminal history and whom to call
criminal_investigator if {
	sharing.is_criminal_law_enforcement
	input.requester.purpose in investigative_purposes

	# Already implied by the two lines above; stated so that no later edit of
	# the purposes can let immigration enforcement in through this door.
	not sharing.immigration_context
}

# A judge's criminal warrant is the one thing the county honours in an
# immigration context. Corrections and prosecution are not sworn officers
# and get nothing here either.
# clause: Sample sanctuary ordinance §3(b) — a criminal judicial warrant that names the person opens exactly what it covers, and whom to call
immigration_enforcement_with_warrant if {
	sharing.immigration_context
	sharing.is_sworn
	sharing.has_applicable_warrant
}

# clause: Sample sanctuary ordinance §3(a) — no personal information to civil immigration enforcement without a criminal judicial warrant
withheld_from_immigration_enforcement if {
	sharing.immigration_context
	not sharing.has_applicable_warrant
}

# --- What they learn --------------------------------------------------------

# Classes criminal investigators receive whole, without a warrant.
investigator_classes := {"identity", "physical_description", "criminal_history", "agency_contact"}

# Enough to tell two people apart, not enough to knock on a door.
investigator_masks := {"address": "city", "phone": "last4"}

# (Library functions are called by their full path: regorus 0.9 cannot call a
# function through an import alias.)
release_candidates contains f if {
	criminal_investigator
	some f in data.fieldgate.lib.sharing.present_fields_of_classes(investigator_classes)
}

# A warrant releases whole the fields it covers, to either kind of requester.
release_candidates contains f if {
	may_know_record_exists
	some f in sharing.warrant_covered_fields
}

# Whoever may know the record exists may know whom to call about it.
release_candidates contains f if {
	immigration_enforcement_with_warrant
	some f in data.fieldgate.lib.sharing.present_fields_of_classes({"agency_contact"})
}

# clause: Sample sanctuary ordinance §2(b) — addresses go out as city and state, telephone numbers as their last four digits
mask_candidates[f] := how if {
	criminal_investigator
	some f, how in investigator_masks
	f in input.record.fields

	# A field the warrant covers goes out whole instead (the node would let
	# the mask win over the release).
	not f in sharing.warrant_covered_fields
}

# Citizenship and country of birth (class immigration_status) are never
# shared. This filter comes last so that nothing above -- not even a warrant
# that names them -- can override it.
# clause: Sample sanctuary ordinance §4 — citizenship and country of birth are never shared, warrant or not
never_shared_classes := {"immigration_status"}

shareable(f) if {
	cls := data.catalog[f]
	not cls in never_shared_classes
}

release := {f | some f in release_candidates; shareable(f)}

mask := {f: how | some f, how in mask_candidates; shareable(f)}

# --- Why (for operators; never sent to the requester) -----------------------

reasons := object.union(
	{f: release_reason(f) | some f in release},
	{f: sprintf("masked (%s) for criminal investigators", [how]) | some f, how in mask},
)

release_reason(f) := "covered by an applicable criminal judicial warrant" if {
	f in sharing.warrant_covered_fields
} else := "whom to call about this record" if {
	data.catalog[f] == "agency_contact"
} else := sprintf("%s: released to criminal investigators", [data.catalog[f]])
