# Benchmark baseline, never for production: release every field of every
# record to everyone. The node still withholds sealed, juvenile and expunged
# records before asking (fieldgate.node.search.AgencyNode.decide), so for a criminal
# investigator it discloses exactly the records the sanctuary contract
# discloses, only with every field whole.
package bench.contracts.release_all

import rego.v1

decision := {"disclose": true, "release": {f | some f in input.record.fields}, "mask": {}}
