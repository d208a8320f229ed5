"""`carecoord audit`: a tamper-evident view of each service's event log (RFC 9162 Merkle trees and
signed C2SP checkpoints); see the README's "Auditing" section."""
