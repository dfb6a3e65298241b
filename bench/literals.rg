connect() failed
upstream timed out
upstream prematurely closed
no live upstreams
could not be resolved
