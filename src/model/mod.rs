//! Pure types shared by the pipeline's stages: ids, the desired state (from manifests) and the
//! live state (from the tenant). No IO here, and no Graph wire shapes.

pub mod desired;
pub mod dn;
pub mod entitlements;
pub mod fields;
pub mod ids;
pub mod live;
pub mod local;
pub mod period;
pub mod pre_authorized;

pub use desired::*;
pub use fields::{FieldValues, On};
pub use ids::*;
pub use live::*;
pub use local::{LocalCertificate, LocalPfx};
pub use period::{Period, PeriodError, days_left};
