"""Reassembly of IP fragments and TCP byte streams, sans-I/O, bounded by capture time.

* `IpDefragmenter` (`ip.py`): IPv4/IPv6 fragments -> whole datagrams, decoded again.
* `TcpReassembler` (`tcp.py`): TCP segments -> `StreamOpen`/`StreamData`/`StreamGap`/
  `StreamClose` events per connection and direction, with `Problem`s for conflicts.
"""

from chargescope.analyzer.reassembly.ip import IpDefragmenter, Reassembled
from chargescope.analyzer.reassembly.tcp import TcpReassembler

__all__ = ["IpDefragmenter", "Reassembled", "TcpReassembler"]
