//! A room per kernel: `kernels/<name>.rs` is the host twin of `shaders/<name>.wgsl`. It owns
//! the kernel's bindings, declared once as a struct of named buffers (`kernel_bindings!`)
//! from which the WGSL `@binding` declarations, the explicit bind-group layout and the bind
//! group are all generated, so a buffer is bound by the name the kernel reads it by, never
//! by position; and its dispatch grid. `GpuEngine` only orders the stages.

pub mod adam;
pub mod alif_backward;
pub mod alif_forward;
pub mod batch_reduce;
pub mod deep_r_refill;
pub mod loss_reduce;
pub mod readout_loss;
pub mod sparse_rows;

use super::shader::{kernel_source, ShaderConstants};

/// How a kernel reads a buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BindingKind {
    Uniform,
    Read,
    ReadWrite,
}

/// One binding of a kernel: its name in WGSL (and in the Rust struct), kind and WGSL type.
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    pub name: &'static str,
    pub kind: BindingKind,
    pub ty: &'static str,
}

/// Declares `pub struct $name<'a>` with one `&wgpu::Buffer` per binding, in binding order,
/// and `$name::BINDINGS`, the list the WGSL declarations and the layout are generated from.
macro_rules! kernel_bindings {
    (
        $(#[doc = $doc:literal])*
        $name:ident { $( $field:ident : $kind:ident $ty:literal ),* $(,)? }
    ) => {
        $(#[doc = $doc])*
        pub struct $name<'a> {
            $( pub $field: &'a wgpu::Buffer, )*
        }

        impl<'a> $name<'a> {
            pub const BINDINGS: &'static [$crate::gpu::kernels::Binding] = &[$(
                $crate::gpu::kernels::Binding {
                    name: stringify!($field),
                    kind: $crate::gpu::kernels::BindingKind::$kind,
                    ty: $ty,
                }
            ),*];

            /// The bind group of these buffers for `kernel`.
            pub fn bind_group(
                &self,
                device: &wgpu::Device,
                kernel: &$crate::gpu::kernels::Kernel,
                label: &str,
            ) -> wgpu::BindGroup {
                kernel.bind_group(device, label, Self::BINDINGS, &[$(self.$field),*])
            }
        }
    };
}
// Named by path (`crate::gpu::kernels::kernel_bindings`), like every other item of the crate.
pub(crate) use kernel_bindings;

/// The bindings of kernel `name` (a name of `shader::ALL_KERNELS`).
pub fn bindings(name: &str) -> &'static [Binding] {
    match name {
        alif_forward::NAME => alif_forward::Bindings::BINDINGS,
        readout_loss::NAME => readout_loss::Bindings::BINDINGS,
        loss_reduce::NAME => loss_reduce::Bindings::BINDINGS,
        sparse_rows::NAME => sparse_rows::Bindings::BINDINGS,
        alif_backward::NAME => alif_backward::Bindings::BINDINGS,
        batch_reduce::NAME => batch_reduce::Bindings::BINDINGS,
        adam::NAME => adam::Bindings::BINDINGS,
        deep_r_refill::NAME => deep_r_refill::Bindings::BINDINGS,
        other => panic!("unknown kernel {other}"),
    }
}

/// The WGSL declarations of `bindings`, numbered in order in group 0.
pub fn wgsl_bindings(bindings: &[Binding]) -> String {
    let mut s =
        String::from("// Bindings, generated from the kernel's room in src/gpu/kernels/.\n");
    for (i, b) in bindings.iter().enumerate() {
        let space = match b.kind {
            BindingKind::Uniform => "uniform",
            BindingKind::Read => "storage, read",
            BindingKind::ReadWrite => "storage, read_write",
        };
        s += &format!(
            "@group(0) @binding({i}) var<{space}> {}: {};\n",
            b.name, b.ty
        );
    }
    s
}

/// Workgroups of an elementwise kernel over `n` items of `size` per workgroup: 2-D when over
/// the per-dimension limit (the kernels index e = gid.x + gid.y * groups.x * size).
pub fn elementwise_grid(n: u32, size: u32, max_per_dim: u32) -> (u32, u32) {
    let groups = n.div_ceil(size).max(1);
    if groups <= max_per_dim {
        (groups, 1)
    } else {
        (max_per_dim, groups.div_ceil(max_per_dim))
    }
}

/// A compiled kernel: its pipeline and the explicit layout of its bind group.
pub struct Kernel {
    pub name: &'static str,
    pub pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

impl Kernel {
    /// Compiles kernel `name` with an explicit bind-group layout built from its bindings.
    pub fn new(device: &wgpu::Device, name: &'static str, constants: &ShaderConstants) -> Kernel {
        let entries: Vec<wgpu::BindGroupLayoutEntry> = bindings(name)
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match b.kind {
                        BindingKind::Uniform => wgpu::BufferBindingType::Uniform,
                        BindingKind::Read => wgpu::BufferBindingType::Storage { read_only: true },
                        BindingKind::ReadWrite => {
                            wgpu::BufferBindingType::Storage { read_only: false }
                        }
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(name),
            entries: &entries,
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(name),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(kernel_source(name, constants).into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache: None,
        });
        Kernel {
            name,
            pipeline,
            layout,
        }
    }

    /// The bind group of `buffers`, given in the order of `bindings` (the generated
    /// `Bindings::bind_group` is the only caller).
    pub fn bind_group(
        &self,
        device: &wgpu::Device,
        label: &str,
        bindings: &[Binding],
        buffers: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        let names = |b: &[Binding]| b.iter().map(|b| b.name).collect::<Vec<_>>();
        assert_eq!(
            names(bindings),
            names(self::bindings(self.name)),
            "bindings of another kernel given to {}",
            self.name
        );
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &self.layout,
            entries: &entries,
        })
    }
}
