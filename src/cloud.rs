//! Real clouds behind the [`Observe`](crate::observe::Observe), [`Compute`](crate::act::Compute)
//! and [`Traffic`](crate::act::Traffic) seams. IO only: nothing here decides anything.

pub mod openstack;
