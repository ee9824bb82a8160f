# Tests for the sharing library, and the fixtures every contract test imports:
#
#     import data.fieldgate.lib.sharing_test as fx
#
#     req := fx.detective
#     rec := fx.booking
#     cat := fx.catalog
#     d := decision with input.requester as req
#         with input.authority as []
#         with input.record as rec
#         with data.catalog as cat
#
# Three habits keep these tests running on both engines (regorus, which the node
# embeds, and regopy/rego-cpp, which cross-checks them):
#
# - Replace input by its parts (`with input.record as ...`), never whole (`with
#   input as ...`): regopy 1.5.2 crashes on a whole-input replacement when the
#   rule under test calls a built-in.
# - Replace with a local variable, a literal or a function call, never a rule
#   (`r := detective` then `with input.requester as r`): regopy 1.5.2 evaluates
#   `with x as some_rule` to undefined.
# - Call library and fixture functions by their full path
#   (`data.fieldgate.lib.sharing.fields_of_class(...)`): regorus 0.9 cannot call
#   a function through an import alias (microsoft/regorus#747). Rules are fine.
package fieldgate.lib.sharing_test

import rego.v1

import data.fieldgate.lib.sharing

# --- Fixtures ---------------------------------------------------------------

# The standard catalog (fieldgate/policy/catalogs/standard.toml): field -> sensitivity class.
catalog := {
	"surname": "identity",
	"given_name": "identity",
	"middle_name": "identity",
	"aliases": "identity",
	"dob": "identity",
	"state_id": "identity",
	"fbi_number": "identity",
	"drivers_license": "identity",
	"sex": "physical_description",
	"race": "physical_description",
	"height_cm": "physical_description",
	"weight_kg": "physical_description",
	"eye_color": "physical_description",
	"hair_color": "physical_description",
	"scars_marks_tattoos": "physical_description",
	"booking_photo_ref": "biometric",
	"address": "location",
	"phone": "contact",
	"charges": "criminal_history",
	"case_number": "criminal_history",
	"incident_date": "criminal_history",
	"incident_summary": "criminal_history",
	"warrant_number": "criminal_history",
	"booking_number": "custody_status",
	"booking_date": "custody_status",
	"release_date": "custody_status",
	"custody_status": "custody_status",
	"facility": "custody_status",
	"citizenship": "immigration_status",
	"country_of_birth": "immigration_status",
	"contact_unit": "agency_contact",
	"contact_phone": "agency_contact",
}

# The same catalog by class, written out so that a test states exactly which
# fields it expects instead of recomputing them the way the contract does.
identity_fields := {
	"surname", "given_name", "middle_name", "aliases",
	"dob", "state_id", "fbi_number", "drivers_license",
}

physical_description_fields := {
	"sex", "race", "height_cm", "weight_kg",
	"eye_color", "hair_color", "scars_marks_tattoos",
}

biometric_fields := {"booking_photo_ref"}

location_fields := {"address"}

contact_fields := {"phone"}

criminal_history_fields := {"charges", "case_number", "incident_date", "incident_summary", "warrant_number"}

custody_status_fields := {"booking_number", "booking_date", "release_date", "custody_status", "facility"}

immigration_status_fields := {"citizenship", "country_of_birth"}

agency_contact_fields := {"contact_unit", "contact_phone"}

all_fields := (((((((identity_fields | physical_description_fields) | biometric_fields) | location_fields) | contact_fields) | criminal_history_fields) | custody_status_fields) | immigration_status_fields) | agency_contact_fields

# A booking record that holds every catalog field.
booking := {
	"id": "KCSO-B-000123",
	"kind": "booking",
	"agency": "kcso",
	"sealed": false,
	"juvenile": false,
	"expunged": false,
	"fields": sort(all_fields),
}

# The booking, holding only `fields`.
booking_with_fields(fields) := object.union(booking, {"fields": fields})

sealed_booking := object.union(booking, {"sealed": true})

juvenile_booking := object.union(booking, {"juvenile": true})

expunged_booking := object.union(booking, {"expunged": true})

detective := {
	"subject": "det-4711",
	"agency": "seattle-pd",
	"agency_type": "local_law_enforcement",
	"roles": ["detective"],
	"purpose": "criminal_investigation",
	"case_number": "2026-001234",
}

# A requester of another agency type or purpose.
requester(agency_type, purpose) := object.union(detective, {"agency_type": agency_type, "purpose": purpose})

civil_immigration_officer := requester("civil_immigration", "civil_immigration")

federal_investigator := requester("federal_law_enforcement", "criminal_investigation")

# A criminal judicial warrant the node found to apply to the record.
warrant(covers) := {
	"kind": "criminal_judicial_warrant",
	"id": "W-2026-0042",
	"court": "King County Superior Court",
	"covers": covers,
	"record_kinds": [],
	"applies_to_record": true,
}

# The same warrant, for another person or record (or expired).
warrant_for_someone_else(covers) := object.union(warrant(covers), {"applies_to_record": false})

# --- Fixture sanity ---------------------------------------------------------

test_fixture_groups_partition_the_catalog if {
	all_fields == object.keys(catalog)
	count(all_fields) == 32
	every f in immigration_status_fields {
		catalog[f] == "immigration_status"
	}
}

# --- Agency types -----------------------------------------------------------

test_criminal_law_enforcement_types_are_the_three_police_levels if {
	sharing.criminal_law_enforcement_types == {"local_law_enforcement", "state_law_enforcement", "federal_law_enforcement"}
}

test_sworn_agency_types_add_civil_immigration if {
	sharing.sworn_agency_types == sharing.criminal_law_enforcement_types | {"civil_immigration"}
}

test_sworn_agency_types_exclude_corrections_and_prosecution if {
	not "corrections" in sharing.sworn_agency_types
	not "prosecution" in sharing.sworn_agency_types
}

# --- Requester predicates ---------------------------------------------------

test_local_police_are_criminal_law_enforcement if {
	req := detective
	sharing.is_criminal_law_enforcement with input.requester as req
}

test_state_and_federal_police_are_criminal_law_enforcement if {
	sharing.is_criminal_law_enforcement with input.requester as requester("state_law_enforcement", "missing_person")
	sharing.is_criminal_law_enforcement with input.requester as requester("federal_law_enforcement", "criminal_investigation")
}

test_immigration_corrections_prosecution_are_not_criminal_law_enforcement if {
	not sharing.is_criminal_law_enforcement with input.requester as requester("civil_immigration", "criminal_investigation")
	not sharing.is_criminal_law_enforcement with input.requester as requester("corrections", "criminal_investigation")
	not sharing.is_criminal_law_enforcement with input.requester as requester("prosecution", "criminal_investigation")
}

test_missing_agency_type_is_nothing if {
	not sharing.is_criminal_law_enforcement with input.requester as {"purpose": "criminal_investigation"}
	not sharing.is_sworn with input.requester as {"purpose": "criminal_investigation"}
}

test_civil_immigration_officers_are_sworn if {
	req := civil_immigration_officer
	sharing.is_sworn with input.requester as req
}

test_police_are_sworn if {
	sharing.is_sworn with input.requester as requester("local_law_enforcement", "background_check")
	sharing.is_sworn with input.requester as requester("federal_law_enforcement", "civil_immigration")
}

test_corrections_and_prosecution_are_not_sworn if {
	not sharing.is_sworn with input.requester as requester("corrections", "criminal_investigation")
	not sharing.is_sworn with input.requester as requester("prosecution", "criminal_investigation")
}

test_civil_immigration_purpose if {
	sharing.is_civil_immigration_purpose with input.requester as requester("local_law_enforcement", "civil_immigration")
	not sharing.is_civil_immigration_purpose with input.requester as requester("civil_immigration", "criminal_investigation")
}

test_civil_immigration_agency if {
	sharing.is_civil_immigration_agency with input.requester as requester("civil_immigration", "criminal_investigation")
	not sharing.is_civil_immigration_agency with input.requester as requester("local_law_enforcement", "civil_immigration")
}

test_immigration_context_by_purpose if {
	sharing.immigration_context with input.requester as requester("local_law_enforcement", "civil_immigration")
}

test_immigration_context_by_agency_type if {
	sharing.immigration_context with input.requester as requester("civil_immigration", "criminal_investigation")
}

test_no_immigration_context_for_criminal_investigators if {
	req := detective
	not sharing.immigration_context with input.requester as req
	not sharing.immigration_context with input.requester as requester("federal_law_enforcement", "missing_person")
	sharing.is_criminal_law_enforcement with input.requester as req
}

# --- Match predicates -------------------------------------------------------

test_strong_and_possible_matches_are_told_apart if {
	sharing.strong_match with input.match as {"tier": "strong"}
	not sharing.possible_match with input.match as {"tier": "strong"}
	sharing.possible_match with input.match as {"tier": "possible"}
	not sharing.strong_match with input.match as {"tier": "possible"}
}

test_a_missing_tier_is_neither if {
	not sharing.strong_match with input.match as {}
	not sharing.possible_match with input.match as {}
}

# --- Record predicates ------------------------------------------------------

test_open_booking_is_unrestricted if {
	rec := booking
	sharing.record_unrestricted with input.record as rec
	not sharing.record_restricted with input.record as rec
}

test_sealed_record_is_restricted if {
	rec := sealed_booking
	sharing.record_restricted with input.record as rec
	not sharing.record_unrestricted with input.record as rec
}

test_juvenile_record_is_restricted if {
	rec := juvenile_booking
	sharing.record_restricted with input.record as rec
	not sharing.record_unrestricted with input.record as rec
}

test_expunged_record_is_restricted if {
	rec := expunged_booking
	sharing.record_restricted with input.record as rec
	not sharing.record_unrestricted with input.record as rec
}

test_missing_or_malformed_flag_is_restricted if {
	rec := booking
	sharing.record_restricted with input.record as object.remove(rec, ["juvenile"])
	sharing.record_restricted with input.record as object.union(rec, {"sealed": "false"})
	sharing.record_restricted with input.record as {"fields": ["surname"]}
}

# --- Catalog helpers --------------------------------------------------------

test_fields_of_class if {
	cat := catalog
	data.fieldgate.lib.sharing.fields_of_class("immigration_status") == {"citizenship", "country_of_birth"} with data.catalog as cat
	data.fieldgate.lib.sharing.fields_of_class("identity") == identity_fields with data.catalog as cat
	data.fieldgate.lib.sharing.fields_of_class("custody_status") == custody_status_fields with data.catalog as cat
}

test_fields_of_unknown_class_is_empty if {
	cat := catalog
	data.fieldgate.lib.sharing.fields_of_class("horoscope") == set() with data.catalog as cat
}

test_fields_of_class_follows_the_node_catalog if {
	# An agency that reclassifies phone as agency contact.
	cat := object.union(catalog, {"phone": "agency_contact"})
	got := data.fieldgate.lib.sharing.fields_of_class("agency_contact") with data.catalog as cat
	got == agency_contact_fields | {"phone"}
}

test_present_fields_of_classes_only_present_fields if {
	cat := catalog
	got := data.fieldgate.lib.sharing.present_fields_of_classes({"identity"})
		with input.record as booking_with_fields(["surname", "dob", "citizenship", "address"])
		with data.catalog as cat
	got == {"surname", "dob"}
}

test_release_class_only_present_fields_of_the_class if {
	cat := catalog
	got := data.fieldgate.lib.sharing.release_class("identity")
		with input.record as booking_with_fields(["surname", "dob", "citizenship", "address"])
		with data.catalog as cat
	got == {"surname", "dob"}
}

test_masks_for_class_maps_each_present_field_of_the_class if {
	cat := catalog
	got := data.fieldgate.lib.sharing.masks_for_class("immigration_status", "withheld")
		with input.record as booking_with_fields(["surname", "citizenship", "country_of_birth"])
		with data.catalog as cat
	got == {"citizenship": "withheld", "country_of_birth": "withheld"}
}

test_masks_for_class_of_an_absent_class_is_empty if {
	cat := catalog
	got := data.fieldgate.lib.sharing.masks_for_class("immigration_status", "withheld")
		with input.record as booking_with_fields(["surname", "dob"])
		with data.catalog as cat
	got == {}
}

test_without_class_drops_the_class_and_unknown_fields if {
	cat := catalog
	got := data.fieldgate.lib.sharing.without_class({"surname", "citizenship", "nickname"}, "immigration_status") with data.catalog as cat
	got == {"surname"}
}

test_present_fields_of_classes_accepts_an_array if {
	cat := catalog
	got := data.fieldgate.lib.sharing.present_fields_of_classes(["identity", "immigration_status"])
		with input.record as booking_with_fields(["surname", "citizenship", "address", "phone"])
		with data.catalog as cat
	got == {"surname", "citizenship"}
}

test_present_fields_of_classes_ignores_fields_not_in_catalog if {
	cat := catalog
	got := data.fieldgate.lib.sharing.present_fields_of_classes({"identity"})
		with input.record as booking_with_fields(["surname", "favourite_colour"])
		with data.catalog as cat
	got == {"surname"}
}

test_present_fields_of_no_classes_is_empty if {
	cat := catalog
	rec := booking
	got := data.fieldgate.lib.sharing.present_fields_of_classes(set()) with input.record as rec with data.catalog as cat
	got == set()
}

# --- Warrant helpers --------------------------------------------------------

test_applicable_warrant_is_listed if {
	got := sharing.applicable_warrants with input.authority as [warrant(["location"])]
	got == {warrant(["location"])}
	sharing.has_applicable_warrant with input.authority as [warrant(["location"])]
}

test_warrant_for_someone_else_is_not_applicable if {
	count(sharing.applicable_warrants) == 0 with input.authority as [warrant_for_someone_else(["location"])]
	not sharing.has_applicable_warrant with input.authority as [warrant_for_someone_else(["location"])]
}

test_applies_to_record_must_be_boolean_true if {
	count(sharing.applicable_warrants) == 0
		with input.authority as [object.union(warrant(["location"]), {"applies_to_record": "true"})]
}

test_other_authority_kinds_are_not_warrants if {
	# An immigration detainer or administrative warrant is not signed by a judge.
	count(sharing.applicable_warrants) == 0
		with input.authority as [object.union(warrant(["location"]), {"kind": "administrative_warrant"})]
}

test_no_authority_no_warrant if {
	not sharing.has_applicable_warrant with input.authority as []
	not sharing.has_applicable_warrant with input.requester as {}
}

test_warrant_covers_fields_by_name if {
	cat := catalog
	rec := booking
	got := sharing.warrant_covered_fields
		with input.authority as [warrant(["facility", "address"])]
		with input.record as rec
		with data.catalog as cat
	got == {"facility", "address"}
}

test_warrant_covers_fields_by_class if {
	cat := catalog
	rec := booking
	got := sharing.warrant_covered_fields
		with input.authority as [warrant(["custody_status", "biometric"])]
		with input.record as rec
		with data.catalog as cat
	got == custody_status_fields | biometric_fields
}

test_warrant_covers_only_present_fields if {
	cat := catalog
	got := sharing.warrant_covered_fields
		with input.authority as [warrant(["custody_status", "address"])]
		with input.record as booking_with_fields(["surname", "facility"])
		with data.catalog as cat
	got == {"facility"}
}

test_warrant_covers_only_catalog_fields if {
	cat := catalog
	got := sharing.warrant_covered_fields
		with input.authority as [warrant(["favourite_colour", "surname"])]
		with input.record as booking_with_fields(["surname", "favourite_colour"])
		with data.catalog as cat
	got == {"surname"}
}

test_warrants_union_their_coverage if {
	cat := catalog
	rec := booking
	got := sharing.warrant_covered_fields
		with input.authority as [warrant(["address"]), warrant(["facility"])]
		with input.record as rec
		with data.catalog as cat
	got == {"address", "facility"}
}

test_warrant_for_someone_else_covers_nothing if {
	cat := catalog
	rec := booking
	got := sharing.warrant_covered_fields
		with input.authority as [warrant_for_someone_else(["address"]), warrant(["facility"])]
		with input.record as rec
		with data.catalog as cat
	got == {"facility"}
}
