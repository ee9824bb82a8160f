# The permissive outbound policy: an agency's searches may reach every node of
# the federation directory. It is what an agency without a policy of its own
# issues with, and what every search did before outbound policies.
package fieldgate.outbound

import rego.v1

default allow := false

# Every node the signed directory lists (a node must at least have an id).
allow if input.node.id != ""

reason := "the node has no id in the federation directory" if not allow
