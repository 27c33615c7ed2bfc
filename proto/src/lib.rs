//! Protobuf messages and gRPC stubs of the Thanos StoreAPI (`thanos`), its Info service
//! (`thanos.info`) and Prometheus remote read and write (`prometheus_copy`), wire-compatible
//! with Thanos.

#![allow(clippy::all, missing_docs)]

pub mod thanos {
    tonic::include_proto!("thanos");

    pub mod info {
        tonic::include_proto!("thanos.info");
    }
}

pub mod prometheus {
    tonic::include_proto!("prometheus_copy");
}
