//! Adapter discovery and device creation.
//!
//! The instance is built from the environment (`WGPU_BACKEND`, `WGPU_ADAPTER_NAME`, …) and
//! then narrowed by `--backend` and `--adapter`; command-line choices win over variables.

use anyhow::{anyhow, Context as _};

use super::settings::BackendKind;

/// Which adapter to open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceRequest {
    pub backend: Option<BackendKind>,
    /// Case-insensitive substring of the adapter name.
    pub adapter: Option<String>,
}

/// One line of `lsnn-gpu devices`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_storage_buffers_per_shader_stage: u32,
    pub max_compute_workgroup_storage_size: u32,
    pub max_compute_invocations_per_workgroup: u32,
    pub max_compute_workgroups_per_dimension: u32,
    /// The timestamp-query features the adapter offers (per-kernel timing in `bench` needs
    /// `TIMESTAMP_QUERY`).
    pub timestamp_query: Vec<String>,
}

/// What to tell a user who has no adapter at all.
pub const NO_ADAPTER_HELP: &str = "no GPU adapter found. On Linux without a GPU, install a \
software adapter: `apt-get install -y mesa-vulkan-drivers libvulkan1` (lavapipe, Vulkan) or \
`libegl-mesa0` (llvmpipe, OpenGL); then `lsnn-gpu devices` lists it. Or run on the CPU \
reference with `--device cpu`.";

/// Why no adapter matches `request`, truthfully: a backend this platform does not have, a
/// backend (from `--backend` or `WGPU_BACKEND`) with no adapter while others have some, or no
/// adapter at all ([`NO_ADAPTER_HELP`]).
pub fn no_adapter_message(request: &DeviceRequest) -> String {
    let everywhere = list_adapters_on(wgpu::Backends::all());
    let chosen = match (request.backend, wgpu::Backends::from_env()) {
        (Some(b), _) => format!("--backend {}", backend_name(b)),
        (None, Some(_)) => format!(
            "WGPU_BACKEND={}",
            std::env::var("WGPU_BACKEND").unwrap_or_default()
        ),
        (None, None) => return NO_ADAPTER_HELP.to_string(),
    };
    let platform = match request.backend {
        Some(BackendKind::Metal) if !cfg!(any(target_os = "macos", target_os = "ios")) => {
            " (Metal exists only on macOS and iOS)"
        }
        Some(BackendKind::Dx12) if !cfg!(windows) => " (DX12 exists only on Windows)",
        _ => "",
    };
    if everywhere.is_empty() {
        return format!("{chosen}: no adapter{platform}; {NO_ADAPTER_HELP}");
    }
    let names: Vec<String> = everywhere
        .iter()
        .map(|a| format!("{} ({})", a.name, a.backend))
        .collect();
    format!(
        "{chosen}: no adapter on this backend{platform}; the other backends have: {} \
         (choose one with --backend, or leave it out)",
        names.join(", ")
    )
}

fn backend_name(b: BackendKind) -> &'static str {
    match b {
        BackendKind::Vulkan => "vulkan",
        BackendKind::Metal => "metal",
        BackendKind::Dx12 => "dx12",
        BackendKind::Gl => "gl",
    }
}

/// Mesa's implicit Vulkan layer `VK_LAYER_MESA_device_select` looks for a Wayland session to
/// order the GPUs for a display, and its probe (`wl_display_connect`) prints "error:
/// XDG_RUNTIME_DIR is invalid or not set in the environment." twice on every headless run,
/// which reads like a failure. lsnn-gpu draws nothing and ranks the adapters itself
/// (discrete first, `--adapter`), so where there is no session (no `XDG_RUNTIME_DIR`) and the
/// user asked nothing of the layer (`MESA_VK_DEVICE_SELECT`, `DRI_PRIME`, `NODEVICE_SELECT`
/// unset), the layer is switched off with its own variable, `NODEVICE_SELECT=1`.
///
/// Call it first thing in `main`, before any thread starts (it sets an environment variable).
pub fn quiet_headless_vulkan() {
    let unset = |v: &str| std::env::var_os(v).is_none();
    if cfg!(all(unix, not(target_os = "macos")))
        && unset("XDG_RUNTIME_DIR")
        && unset("MESA_VK_DEVICE_SELECT")
        && unset("DRI_PRIME")
        && unset("NODEVICE_SELECT")
    {
        std::env::set_var("NODEVICE_SELECT", "1");
    }
}

fn backends_of(request: &DeviceRequest) -> wgpu::Backends {
    match request.backend {
        Some(BackendKind::Vulkan) => wgpu::Backends::VULKAN,
        Some(BackendKind::Metal) => wgpu::Backends::METAL,
        Some(BackendKind::Dx12) => wgpu::Backends::DX12,
        Some(BackendKind::Gl) => wgpu::Backends::GL,
        None => wgpu::Backends::from_env().unwrap_or(wgpu::Backends::all()),
    }
}

fn instance(request: &DeviceRequest) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = backends_of(request);
    wgpu::Instance::new(desc)
}

fn summary(adapter: &wgpu::Adapter) -> AdapterSummary {
    let info = adapter.get_info();
    let limits = adapter.limits();
    AdapterSummary {
        name: info.name,
        backend: format!("{:?}", info.backend).to_lowercase(),
        device_type: format!("{:?}", info.device_type),
        driver: info.driver,
        driver_info: info.driver_info,
        max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
        max_buffer_size: limits.max_buffer_size,
        max_storage_buffers_per_shader_stage: limits.max_storage_buffers_per_shader_stage,
        max_compute_workgroup_storage_size: limits.max_compute_workgroup_storage_size,
        max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
        max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
        timestamp_query: super::timing::timestamp_features(adapter.features()),
    }
}

/// Every adapter the request's backends expose, GPUs first.
pub fn list_adapters(request: &DeviceRequest) -> Vec<AdapterSummary> {
    list_adapters_on(backends_of(request))
}

fn list_adapters_on(backends: wgpu::Backends) -> Vec<AdapterSummary> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    desc.backends = backends;
    let inst = wgpu::Instance::new(desc);
    let mut adapters = pollster::block_on(inst.enumerate_adapters(backends));
    adapters.sort_by_key(|a| rank(&a.get_info()));
    adapters.iter().map(summary).collect()
}

/// Preference order: discrete, integrated, virtual, software (CPU), other.
fn rank(info: &wgpu::AdapterInfo) -> u8 {
    match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    }
}

/// An open device with the adapter it came from. Cheap to clone (wgpu handles are shared).
#[derive(Clone)]
pub struct GpuContext {
    pub adapter: wgpu::Adapter,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    /// Most loop iterations one invocation may run in one dispatch, when the driver caps
    /// them. llvmpipe/lavapipe (Mesa's gallivm) silently end every loop once an invocation
    /// has run 65535 iterations in total, over all its loops: kernels must split their work
    /// into dispatches under that budget. Measured at open by [`probe_loop_limit`].
    pub loop_limit: Option<u64>,
}

/// Features a device is opened with where the adapter offers them, and only there:
/// `TIMESTAMP_QUERY` for the opt-in per-kernel timing of `lsnn-gpu bench` (unused otherwise).
pub const OPTIONAL_FEATURES: wgpu::Features = wgpu::Features::TIMESTAMP_QUERY;

impl GpuContext {
    /// Opens the best adapter matching the request, or explains why none matched.
    pub fn open(request: &DeviceRequest) -> anyhow::Result<GpuContext> {
        Self::open_with_features(request, OPTIONAL_FEATURES)
    }

    /// As [`GpuContext::open`], requesting those of `optional` features the adapter offers
    /// (`wgpu::Features::empty()`: none, as on an adapter without them).
    pub fn open_with_features(
        request: &DeviceRequest,
        optional: wgpu::Features,
    ) -> anyhow::Result<GpuContext> {
        let inst = instance(request);
        let mut adapters = pollster::block_on(inst.enumerate_adapters(backends_of(request)));
        let name_filter = request
            .adapter
            .clone()
            .or_else(|| std::env::var("WGPU_ADAPTER_NAME").ok())
            .map(|s| s.to_lowercase());
        let total = adapters.len();
        if let Some(filter) = &name_filter {
            adapters.retain(|a| a.get_info().name.to_lowercase().contains(filter));
        }
        adapters.sort_by_key(|a| rank(&a.get_info()));
        let adapter = match adapters.into_iter().next() {
            Some(a) => a,
            None if total == 0 => return Err(anyhow!(no_adapter_message(request))),
            None => {
                let names: Vec<String> = list_adapters(request)
                    .into_iter()
                    .map(|s| format!("{} ({})", s.name, s.backend))
                    .collect();
                return Err(anyhow!(
                    "no adapter name contains {:?}; adapters found: {}",
                    name_filter.unwrap_or_default(),
                    names.join(", ")
                ));
            }
        };
        let info = adapter.get_info();
        // Ask for what the adapter offers, so big GPUs get big bindings; the engine sizes
        // its buffers from the device's actual limits.
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("lsnn-gpu device"),
            required_features: adapter.features() & optional,
            required_limits: limits,
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .with_context(|| format!("cannot open a device on adapter {}", info.name))?;
        let loop_limit = probe_loop_limit(&device, &queue)?;
        Ok(GpuContext {
            adapter,
            device,
            queue,
            info,
            loop_limit,
        })
    }

    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    pub fn backend_name(&self) -> String {
        format!("{:?}", self.info.backend).to_lowercase()
    }

    pub fn is_cpu_adapter(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }
}

/// Iterations the probe asks for; a driver that stops earlier caps loops.
const PROBE_ITERATIONS: u32 = 1 << 20;

/// Runs one loop of 2^20 iterations in a single invocation and reads how many ran.
/// Returns None when all ran (no cap), else the cap.
pub fn probe_loop_limit(device: &wgpu::Device, queue: &wgpu::Queue) -> anyhow::Result<Option<u64>> {
    use wgpu::util::DeviceExt;
    let source = format!(
        "@group(0) @binding(0) var<storage, read_write> count: array<u32>;\n\
         @compute @workgroup_size(1)\n\
         fn main() {{ var c = 0u; for (var i = 0u; i < {PROBE_ITERATIONS}u; i++) {{ c += 1u; }} count[0] = c; }}"
    );
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("loop limit probe"),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("loop limit probe"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let out = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("loop limit probe"),
        contents: &[0u8; 16],
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
    });
    let staging = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("loop limit probe staging"),
        size: 16,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some("loop limit probe"),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: out.as_entire_binding(),
        }],
    });
    let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
        label: Some("loop limit probe"),
    });
    {
        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: None,
            timestamp_writes: None,
        });
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &group, &[]);
        pass.dispatch_workgroups(1, 1, 1);
    }
    enc.copy_buffer_to_buffer(&out, 0, &staging, 0, 16);
    queue.submit([enc.finish()]);
    let ran: Vec<u32> = bytemuck::pod_collect_to_vec(&map_read(device, &staging, 16)?);
    Ok(if ran[0] < PROBE_ITERATIONS {
        Some(ran[0] as u64)
    } else {
        None
    })
}

/// Maps the first `len` bytes of a MAP_READ buffer once the queue is idle, copies them out
/// and unmaps it.
pub fn map_read(device: &wgpu::Device, buffer: &wgpu::Buffer, len: u64) -> anyhow::Result<Vec<u8>> {
    let slice = buffer.slice(0..len);
    let (tx, rx) = std::sync::mpsc::channel();
    slice.map_async(wgpu::MapMode::Read, move |r| {
        let _ = tx.send(r);
    });
    device
        .poll(wgpu::PollType::Wait {
            submission_index: None,
            timeout: None,
        })
        .context("waiting for the GPU")?;
    rx.recv()
        .context("map callback dropped")?
        .context("mapping a read-back buffer")?;
    let data = slice
        .get_mapped_range()
        .context("reading a mapped buffer")?
        .to_vec();
    buffer.unmap();
    Ok(data)
}
