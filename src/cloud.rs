//! Real clouds behind the observe capabilities ([`Inventory`](crate::observe::Inventory),
//! [`TelemetrySource`](crate::observe::TelemetrySource), [`LoadSource`](crate::observe::LoadSource))
//! and the [`Compute`](crate::act::Compute) and [`Traffic`](crate::act::Traffic) seams. IO only:
//! nothing here decides anything.

pub mod openstack;
