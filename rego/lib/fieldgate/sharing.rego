# Helpers every Fieldgate contract may import:
#
#     import data.fieldgate.lib.sharing
#
# The input document and data.catalog are described in docs/contracts.md.
# Grant access with the positive predicates here (record_unrestricted, not
# "not record_restricted"), so that a contract never allows by the absence of
# a denial.
#
# Call the functions by their full path
# (data.fieldgate.lib.sharing.fields_of_class("identity")): regorus 0.9, the
# engine the node embeds, cannot call a function through an import alias
# (microsoft/regorus#747). Rules work through the alias.
package fieldgate.lib.sharing

import rego.v1

# --- Agency types -----------------------------------------------------------

# Agencies that investigate crimes.
criminal_law_enforcement_types := {
	"local_law_enforcement",
	"state_law_enforcement",
	"federal_law_enforcement",
}

# Agencies whose officers are sworn. Civil immigration officers are sworn
# federal officers, and the old all-or-nothing systems treated them exactly like
# criminal law enforcement; contracts that want that behaviour use this set.
sworn_agency_types := criminal_law_enforcement_types | {"civil_immigration"}

# --- The requester ----------------------------------------------------------

is_criminal_law_enforcement if input.requester.agency_type in criminal_law_enforcement_types

is_sworn if input.requester.agency_type in sworn_agency_types

is_civil_immigration_purpose if input.requester.purpose == "civil_immigration"

is_civil_immigration_agency if input.requester.agency_type == "civil_immigration"

# A search is in an immigration context when either the purpose or the agency
# says so: an immigration agency does not leave that context by stating a
# criminal purpose, and a police officer enters it by stating an immigration one.
immigration_context if is_civil_immigration_purpose

immigration_context if is_civil_immigration_agency

# --- The record -------------------------------------------------------------

# A record may be disclosed only when the node says, explicitly, that it is
# neither sealed, nor a juvenile record, nor expunged. A missing or malformed
# flag counts as restricted (fail closed).
record_unrestricted if {
	input.record.sealed == false
	input.record.juvenile == false
	input.record.expunged == false
}

# Sealed, juvenile and expunged records (and records whose flags are missing).
# For explanations and tests; contracts require record_unrestricted instead.
record_restricted if not record_unrestricted

# --- The match --------------------------------------------------------------

# The node found this record a strong match: a name and a date of birth that
# agree (exactly, or with day and month swapped). Only then does the node
# release fields.
strong_match if input.match.tier == "strong"

# The node found this record a possible match: a name without a date of birth
# that corroborates it. The node sends at most a pointer, and only if the
# decision discloses the record; a contract that wants no pointer for a
# possible match requires strong_match to disclose.
possible_match if input.match.tier == "possible"

# --- The field catalog ------------------------------------------------------

# Every catalog field of sensitivity class `cls`, whether or not a record holds it.
fields_of_class(cls) := {f | data.catalog[f] == cls}

# The fields this record holds whose class is one of `classes` (a set or an
# array). Fields missing from the catalog are never included.
present_fields_of_classes(classes) := {f |
	some f in input.record.fields
	data.catalog[f] in classes
}

# --- Releasing, masking and withholding a class -----------------------------

# Release a whole class: the fields this record holds of class `cls`.
release_class(cls) := {f |
	some f in input.record.fields
	data.catalog[f] == cls
}

# Mask a whole class: {field: mask} for every field this record holds of class
# `cls`, for a decision's "mask" object (e.g. masks_for_class("contact", "last4")).
# (`m := mask`, not `{f: mask | ...}`: regopy 1.5.2 leaves an argument used
# directly as a comprehension value undefined.)
masks_for_class(cls, mask) := {f: m |
	some f in input.record.fields
	data.catalog[f] == cls
	m := mask
}

# Withhold a class from a set of fields: `fields` without any field of class `cls`
# (a field the catalog does not know is dropped too).
without_class(fields, cls) := {f |
	some f in fields
	data.catalog[f]
	data.catalog[f] != cls
}

# --- Warrants ---------------------------------------------------------------

# Criminal judicial warrants that, according to the node, apply to this record
# (unexpired, naming this person and, where limited, this kind of record).
applicable_warrants contains w if {
	some w in input.authority
	w.kind == "criminal_judicial_warrant"
	w.applies_to_record == true
}

has_applicable_warrant if count(applicable_warrants) > 0

# Fields the record holds that an applicable warrant covers, by field name...
warrant_covered_fields contains f if {
	some w in applicable_warrants
	some f in input.record.fields
	data.catalog[f]
	f in w.covers
}

# ...or by the field's sensitivity class.
warrant_covered_fields contains f if {
	some w in applicable_warrants
	some f in input.record.fields
	data.catalog[f] in w.covers
}
