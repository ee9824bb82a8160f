# Tests for the permissive (all-or-nothing) contract. Fixtures and the habits
# that keep these tests running on both engines: rego/lib/fieldgate/sharing_test.rego.
package fieldgate.contracts.permissive_test

import rego.v1

import data.fieldgate.contracts.permissive
import data.fieldgate.lib.sharing_test as fx

# The decision for a search by `req`, presenting `auth`, that matched `rec`.
decide(req, auth, rec) := d if {
	cat := fx.catalog
	d := permissive.decision with input.requester as req
		with input.authority as auth
		with input.record as rec
		with data.catalog as cat
}

# The fixture functions, by their full path (regorus 0.9 cannot call through an alias).
requester(agency_type, purpose) := data.fieldgate.lib.sharing_test.requester(agency_type, purpose)

warrant(covers) := data.fieldgate.lib.sharing_test.warrant(covers)

booking_with_fields(fields) := data.fieldgate.lib.sharing_test.booking_with_fields(fields)

nothing := {"disclose": false, "release": set(), "mask": {}}

# Everything in a full booking but citizenship and country of birth.
everything_shareable := fx.all_fields - fx.immigration_status_fields

test_detective_gets_every_field_whole if {
	d := decide(fx.detective, [], fx.booking)
	d.disclose == true
	d.release == everything_shareable
	d.mask == {}
}

test_detective_gets_photo_custody_and_full_address if {
	d := decide(fx.detective, [], fx.booking)
	wanted := (fx.biometric_fields | fx.custody_status_fields) | {"address", "phone"}
	count(wanted - d.release) == 0
}

# The point of this contract: a civil immigration officer is sworn, so the
# all-or-nothing rule hands over the same record a detective gets.
test_civil_immigration_officer_gets_every_field_whole if {
	d := decide(fx.civil_immigration_officer, [], fx.booking)
	d.disclose == true
	d.release == everything_shareable
	d.mask == {}
}

test_civil_immigration_agency_any_purpose_gets_every_field if {
	d := decide(requester("civil_immigration", "background_check"), [], fx.booking)
	d.release == everything_shareable
}

test_state_and_federal_police_any_purpose_get_every_field if {
	decide(requester("state_law_enforcement", "missing_person"), [], fx.booking).release == everything_shareable
	decide(requester("federal_law_enforcement", "background_check"), [], fx.booking).release == everything_shareable
}

test_citizenship_and_country_of_birth_are_withheld_even_under_warrant if {
	d := decide(fx.detective, [warrant(["immigration_status", "citizenship"])], fx.booking)
	d.disclose == true
	count(d.release & fx.immigration_status_fields) == 0
	d.mask == {}
}

test_only_fields_the_record_holds if {
	d := decide(fx.civil_immigration_officer, [], booking_with_fields(["surname", "dob", "citizenship"]))
	d.release == {"surname", "dob"}
}

test_fields_not_in_the_catalog_are_not_released if {
	d := decide(fx.detective, [], booking_with_fields(["surname", "favourite_colour"]))
	d.release == {"surname"}
}

test_corrections_and_prosecution_get_nothing if {
	decide(requester("corrections", "criminal_investigation"), [], fx.booking) == nothing
	decide(requester("prosecution", "criminal_investigation"), [warrant(["identity"])], fx.booking) == nothing
}

test_requester_without_agency_type_gets_nothing if {
	decide({"purpose": "criminal_investigation"}, [], fx.booking) == nothing
}

test_sealed_juvenile_expunged_records_are_never_disclosed if {
	decide(fx.detective, [], fx.sealed_booking) == nothing
	decide(fx.civil_immigration_officer, [], fx.juvenile_booking) == nothing
	decide(fx.federal_investigator, [warrant(["identity"])], fx.expunged_booking) == nothing
}

test_every_released_field_has_a_reason if {
	d := decide(fx.detective, [], fx.booking)
	object.keys(d.reasons) == d.release
	is_set(d.release)
}
