# Tests for the pointer-only contract. Fixtures and the habits that keep these
# tests running on both engines: rego/lib/fieldgate/sharing_test.rego.
package fieldgate.contracts.pointer_only_test

import rego.v1

import data.fieldgate.contracts.pointer_only
import data.fieldgate.lib.sharing_test as fx

# The decision for a search by `req`, presenting `auth`, that matched `rec`.
decide(req, auth, rec) := d if {
	cat := fx.catalog
	d := pointer_only.decision with input.requester as req
		with input.authority as auth
		with input.record as rec
		with data.catalog as cat
}

# The fixture functions, by their full path (regorus 0.9 cannot call through an alias).
requester(agency_type, purpose) := data.fieldgate.lib.sharing_test.requester(agency_type, purpose)

warrant(covers) := data.fieldgate.lib.sharing_test.warrant(covers)

nothing := {"disclose": false, "release": set(), "mask": {}}

# The record is acknowledged; the node adds the contact; no field goes out.
pointer := {"disclose": true, "release": set(), "mask": {}}

test_detective_gets_the_pointer_only if {
	decide(fx.detective, [], fx.booking) == pointer
}

test_missing_person_search_gets_the_pointer_only if {
	decide(requester("state_law_enforcement", "missing_person"), [], fx.booking) == pointer
}

test_federal_investigator_gets_the_pointer_only if {
	decide(fx.federal_investigator, [], fx.booking) == pointer
}

test_a_warrant_adds_no_field if {
	decide(fx.detective, [warrant(["identity", "custody_status", "location"])], fx.booking) == pointer
}

test_civil_immigration_officer_gets_nothing if {
	decide(fx.civil_immigration_officer, [], fx.booking) == nothing
	decide(fx.civil_immigration_officer, [warrant(["identity"])], fx.booking) == nothing
}

test_civil_immigration_agency_stating_a_criminal_purpose_gets_nothing if {
	decide(requester("civil_immigration", "criminal_investigation"), [], fx.booking) == nothing
}

test_police_searching_for_civil_immigration_get_nothing if {
	decide(requester("local_law_enforcement", "civil_immigration"), [], fx.booking) == nothing
}

test_background_check_gets_nothing if {
	decide(requester("local_law_enforcement", "background_check"), [], fx.booking) == nothing
}

test_corrections_and_prosecution_get_nothing if {
	decide(requester("corrections", "criminal_investigation"), [], fx.booking) == nothing
	decide(requester("prosecution", "missing_person"), [], fx.booking) == nothing
}

test_unknown_purpose_gets_nothing if {
	decide(requester("local_law_enforcement", "curiosity"), [], fx.booking) == nothing
}

test_sealed_juvenile_expunged_records_are_never_disclosed if {
	decide(fx.detective, [], fx.sealed_booking) == nothing
	decide(fx.detective, [], fx.juvenile_booking) == nothing
	decide(fx.detective, [], fx.expunged_booking) == nothing
}
