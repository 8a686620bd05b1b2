//! Misbehaving functions (`src/bin`): each must end as a failed execution, never harm the server.
