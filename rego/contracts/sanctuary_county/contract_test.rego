# Tests for the sanctuary county contract, field by field. Fixtures and the
# habits that keep these tests running on both engines: rego/lib/fieldgate/sharing_test.rego.
package fieldgate.contracts.sanctuary_county_test

import rego.v1

import data.fieldgate.contracts.sanctuary_county
import data.fieldgate.lib.sharing_test as fx

# --- Helpers ----------------------------------------------------------------

# The decision for a search by `req`, presenting `auth`, that matched `rec`.
decide(req, auth, rec) := d if {
	cat := fx.catalog
	d := sanctuary_county.decision with input.requester as req
		with input.authority as auth
		with input.record as rec
		with data.catalog as cat
}

# The fixture functions, by their full path (regorus 0.9 cannot call through an alias).
requester(agency_type, purpose) := data.fieldgate.lib.sharing_test.requester(agency_type, purpose)

warrant(covers) := data.fieldgate.lib.sharing_test.warrant(covers)

warrant_for_someone_else(covers) := data.fieldgate.lib.sharing_test.warrant_for_someone_else(covers)

booking_with_fields(fields) := data.fieldgate.lib.sharing_test.booking_with_fields(fields)

# The record is not even acknowledged.
nothing := {"disclose": false, "release": set(), "mask": {}}

# What a criminal investigator learns from a full booking without a warrant.
investigator_release := ((fx.identity_fields | fx.physical_description_fields) | fx.criminal_history_fields) | fx.agency_contact_fields

investigator_mask := {"address": "city", "phone": "last4"}

# --- Criminal investigators, no warrant -------------------------------------

test_detective_gets_identity_description_history_and_contact if {
	d := decide(fx.detective, [], fx.booking)
	d.disclose == true
	d.release == investigator_release
	d.mask == investigator_mask
}

test_detective_gets_address_as_city_and_phone_as_last4_only if {
	d := decide(fx.detective, [], fx.booking)
	d.mask.address == "city"
	d.mask.phone == "last4"
	not "address" in d.release
	not "phone" in d.release
}

test_detective_gets_no_photo_or_custody_without_warrant if {
	d := decide(fx.detective, [], fx.booking)
	d.disclose == true
	count(d.release & fx.biometric_fields) == 0
	count(d.release & fx.custody_status_fields) == 0
	count(object.keys(d.mask) & (fx.biometric_fields | fx.custody_status_fields)) == 0
}

test_detective_never_gets_citizenship_or_country_of_birth if {
	d := decide(fx.detective, [], fx.booking)
	d.disclose == true
	count(d.release & fx.immigration_status_fields) == 0
	count(object.keys(d.mask) & fx.immigration_status_fields) == 0
}

test_missing_person_search_by_state_police if {
	d := decide(requester("state_law_enforcement", "missing_person"), [], fx.booking)
	d.disclose == true
	d.release == investigator_release
	d.mask == investigator_mask
}

test_federal_criminal_investigator if {
	d := decide(fx.federal_investigator, [], fx.booking)
	d.disclose == true
	d.release == investigator_release
	d.mask == investigator_mask
}

test_fields_not_in_the_record_are_not_released if {
	d := decide(fx.detective, [], booking_with_fields(["surname", "dob", "charges", "address", "booking_photo_ref"]))
	d.disclose == true
	d.release == {"surname", "dob", "charges"}
	d.mask == {"address": "city"}
}

test_fields_not_in_the_catalog_are_not_released if {
	d := decide(fx.detective, [], booking_with_fields(["surname", "favourite_colour"]))
	d.release == {"surname"}
	d.mask == {}
}

# --- Criminal investigators with a warrant ----------------------------------

test_federal_investigator_with_warrant_gets_covered_fields_whole if {
	auth := [warrant(["custody_status", "booking_photo_ref", "address"])]
	d := decide(fx.federal_investigator, auth, fx.booking)
	d.disclose == true
	d.release == ((investigator_release | fx.custody_status_fields) | {"booking_photo_ref", "address"})
	d.mask == {"phone": "last4"}
}

test_warrant_covering_location_unmasks_the_address if {
	d := decide(fx.detective, [warrant(["location"])], fx.booking)
	"address" in d.release
	not d.mask.address
	d.mask == {"phone": "last4"}
}

test_warrant_covering_contact_unmasks_the_phone if {
	d := decide(fx.detective, [warrant(["phone"])], fx.booking)
	d.release == investigator_release | {"phone"}
	d.mask == {"address": "city"}
}

test_warrant_covering_citizenship_still_withholds_it if {
	auth := [warrant(["citizenship", "immigration_status", "custody_status"])]
	d := decide(fx.detective, auth, fx.booking)
	d.release == investigator_release | fx.custody_status_fields
	count(d.release & fx.immigration_status_fields) == 0
	count(object.keys(d.mask) & fx.immigration_status_fields) == 0
}

test_warrant_for_someone_else_changes_nothing_for_a_detective if {
	d := decide(fx.detective, [warrant_for_someone_else(["custody_status", "location"])], fx.booking)
	d.release == investigator_release
	d.mask == investigator_mask
}

test_warrant_covering_an_absent_field_releases_nothing_more if {
	d := decide(fx.detective, [warrant(["facility", "booking_photo_ref"])], booking_with_fields(["surname", "address"]))
	d.release == {"surname"}
	d.mask == {"address": "city"}
}

# --- Civil immigration enforcement ------------------------------------------

test_civil_immigration_officer_gets_nothing if {
	decide(fx.civil_immigration_officer, [], fx.booking) == nothing
}

test_civil_immigration_agency_stating_a_criminal_purpose_gets_nothing if {
	decide(requester("civil_immigration", "criminal_investigation"), [], fx.booking) == nothing
	decide(requester("civil_immigration", "missing_person"), [], fx.booking) == nothing
}

test_police_searching_for_civil_immigration_get_nothing if {
	decide(requester("local_law_enforcement", "civil_immigration"), [], fx.booking) == nothing
	decide(requester("federal_law_enforcement", "civil_immigration"), [], fx.booking) == nothing
}

test_civil_immigration_with_applicable_warrant_gets_only_what_it_covers if {
	auth := [warrant(["custody_status", "surname", "citizenship"])]
	d := decide(fx.civil_immigration_officer, auth, fx.booking)
	d.disclose == true
	d.release == (fx.custody_status_fields | {"surname"}) | fx.agency_contact_fields
	d.mask == {}
}

test_civil_immigration_warrant_never_yields_citizenship if {
	d := decide(fx.civil_immigration_officer, [warrant(["immigration_status", "country_of_birth"])], fx.booking)

	# The judge has authorised this search, so the record is acknowledged and
	# the contact given -- but the only fields covered are never shared.
	d.disclose == true
	d.release == fx.agency_contact_fields
	d.mask == {}
}

test_civil_immigration_with_warrant_for_someone_else_gets_nothing if {
	decide(fx.civil_immigration_officer, [warrant_for_someone_else(["custody_status"])], fx.booking) == nothing
}

test_civil_immigration_with_administrative_warrant_gets_nothing if {
	auth := [object.union(warrant(["custody_status"]), {"kind": "administrative_warrant"})]
	decide(fx.civil_immigration_officer, auth, fx.booking) == nothing
}

test_civil_immigration_agency_with_warrant_by_agency_type if {
	d := decide(requester("civil_immigration", "criminal_investigation"), [warrant(["facility"])], fx.booking)
	d.disclose == true
	d.release == {"facility"} | fx.agency_contact_fields
	d.mask == {}
}

test_police_with_immigration_purpose_and_warrant_get_only_what_it_covers if {
	d := decide(requester("local_law_enforcement", "civil_immigration"), [warrant(["location"])], fx.booking)
	d.disclose == true
	d.release == {"address"} | fx.agency_contact_fields
	d.mask == {}
}

test_civil_immigration_warrant_on_partial_record if {
	d := decide(fx.civil_immigration_officer, [warrant(["custody_status"])], booking_with_fields(["surname", "facility"]))
	d.release == {"facility"}
	d.mask == {}
}

# --- Restricted records -----------------------------------------------------

test_sealed_record_is_never_disclosed if {
	decide(fx.detective, [], fx.sealed_booking) == nothing
	decide(fx.detective, [warrant(["identity"])], fx.sealed_booking) == nothing
	decide(fx.civil_immigration_officer, [warrant(["identity"])], fx.sealed_booking) == nothing
}

test_juvenile_record_is_never_disclosed if {
	decide(fx.detective, [], fx.juvenile_booking) == nothing
	decide(fx.federal_investigator, [warrant(["identity"])], fx.juvenile_booking) == nothing
}

test_expunged_record_is_never_disclosed if {
	decide(fx.detective, [], fx.expunged_booking) == nothing
	decide(fx.detective, [warrant(["criminal_history"])], fx.expunged_booking) == nothing
}

# --- Everyone else ----------------------------------------------------------

test_corrections_and_prosecution_get_nothing if {
	decide(requester("corrections", "criminal_investigation"), [], fx.booking) == nothing
	decide(requester("prosecution", "criminal_investigation"), [], fx.booking) == nothing
}

test_corrections_with_warrant_in_immigration_context_gets_nothing if {
	decide(requester("corrections", "civil_immigration"), [warrant(["custody_status"])], fx.booking) == nothing
}

test_background_check_gets_nothing if {
	decide(requester("local_law_enforcement", "background_check"), [], fx.booking) == nothing
	decide(requester("state_law_enforcement", "background_check"), [warrant(["identity"])], fx.booking) == nothing
}

test_unknown_purpose_gets_nothing if {
	decide(requester("local_law_enforcement", "curiosity"), [], fx.booking) == nothing
}

test_requester_without_agency_type_or_purpose_gets_nothing if {
	decide({"subject": "x"}, [], fx.booking) == nothing
}

# --- The decision itself ----------------------------------------------------

test_decision_has_the_documented_shape if {
	d := decide(fx.detective, [], fx.booking)
	is_boolean(d.disclose)
	is_set(d.release)
	is_object(d.mask)
	is_object(d.reasons)
}

test_every_released_or_masked_field_has_a_reason if {
	d := decide(fx.detective, [warrant(["custody_status"])], fx.booking)
	object.keys(d.reasons) == d.release | object.keys(d.mask)
	d.reasons.surname == "identity: released to criminal investigators"
	d.reasons.facility == "covered by an applicable criminal judicial warrant"
	d.reasons.contact_unit == "whom to call about this record"
	d.reasons.address == "masked (city) for criminal investigators"
}

# --- The ordinance's rules, asked on their own (fieldgate contract render) ---

test_immigration_bar_holds_without_warrant_only if {
	officer := fx.civil_immigration_officer
	detective := fx.detective
	sanctuary_county.withheld_from_immigration_enforcement with input.requester as officer
		with input.authority as []
	not sanctuary_county.withheld_from_immigration_enforcement with input.requester as officer
		with input.authority as [warrant(["location"])]
	not sanctuary_county.withheld_from_immigration_enforcement with input.requester as detective
		with input.authority as []
}

test_immigration_status_is_the_class_never_shared if {
	sanctuary_county.never_shared_classes == {"immigration_status"}
}
