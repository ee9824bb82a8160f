# King County's outbound policy: which agencies its investigators' searches
# may reach. The county's 2018 ordinance forbids sharing personal information
# with civil immigration enforcement without a criminal judicial warrant. A
# search names a person the police are interested in, so it is itself
# personal information: it must not reach such an agency at all.
#
# Evaluated by the county's credential issuer, once per node of the signed
# federation directory (input.node), with the county's own facts
# (input.agency). The nodes allowed become the credential's `reach`; every
# other node gets `reason`, shown to the investigator as "not asked".
package fieldgate.outbound

import rego.v1

default allow := false

# Agency types a county search may reach. A node whose type the directory
# does not give is not asked (default deny).
criminal_justice_types := {
	"local_law_enforcement",
	"state_law_enforcement",
	"federal_law_enforcement",
	"corrections",
	"prosecution",
}

# Agencies the county lists under the ordinance whatever type they are
# registered as: the 2019 audit found the jail system classing immigration
# officers as law enforcement because their agency also enforces criminal law.
ordinance_excluded := {"ice-ero-seattle", "ice-hsi-seattle", "cbp-blaine-sector"}

allow if {
	input.node.agency_type in criminal_justice_types
	not input.node.agency in ordinance_excluded
}

reason := "King County ordinance (2018): never a civil immigration agency" if {
	input.node.agency_type == "civil_immigration"
} else := sprintf("King County ordinance (2018) excludes agency %s", [input.node.agency]) if {
	input.node.agency in ordinance_excluded
} else := "the federation directory does not say what kind of agency runs this node" if {
	input.node.agency_type == ""
} else := sprintf("King County does not send searches to agencies of type %s", [kind]) if {
	not allow
	kind := input.node.agency_type
}
