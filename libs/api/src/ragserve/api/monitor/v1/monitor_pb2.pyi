import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ServingState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SERVING_STATE_UNSPECIFIED: _ClassVar[ServingState]
    SERVING_STATE_SERVING: _ClassVar[ServingState]
    SERVING_STATE_NOT_SERVING: _ClassVar[ServingState]
    SERVING_STATE_UNREACHABLE: _ClassVar[ServingState]
    SERVING_STATE_DEGRADED: _ClassVar[ServingState]
    SERVING_STATE_UNKNOWN: _ClassVar[ServingState]

class Severity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SEVERITY_UNSPECIFIED: _ClassVar[Severity]
    SEVERITY_INFO: _ClassVar[Severity]
    SEVERITY_WARNING: _ClassVar[Severity]
    SEVERITY_CRITICAL: _ClassVar[Severity]

class AlertState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ALERT_STATE_UNSPECIFIED: _ClassVar[AlertState]
    ALERT_STATE_FIRING: _ClassVar[AlertState]
    ALERT_STATE_RESOLVED: _ClassVar[AlertState]
SERVING_STATE_UNSPECIFIED: ServingState
SERVING_STATE_SERVING: ServingState
SERVING_STATE_NOT_SERVING: ServingState
SERVING_STATE_UNREACHABLE: ServingState
SERVING_STATE_DEGRADED: ServingState
SERVING_STATE_UNKNOWN: ServingState
SEVERITY_UNSPECIFIED: Severity
SEVERITY_INFO: Severity
SEVERITY_WARNING: Severity
SEVERITY_CRITICAL: Severity
ALERT_STATE_UNSPECIFIED: AlertState
ALERT_STATE_FIRING: AlertState
ALERT_STATE_RESOLVED: AlertState

class ReplicaStatus(_message.Message):
    __slots__ = ("address", "state", "since", "detail")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    address: str
    state: ServingState
    since: _timestamp_pb2.Timestamp
    detail: str
    def __init__(self, address: _Optional[str] = ..., state: _Optional[_Union[ServingState, str]] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., detail: _Optional[str] = ...) -> None: ...

class ServiceFigures(_message.Message):
    __slots__ = ("p95_latency_seconds", "error_ratio", "requests_per_second", "window")
    P95_LATENCY_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ERROR_RATIO_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    p95_latency_seconds: float
    error_ratio: float
    requests_per_second: float
    window: _duration_pb2.Duration
    def __init__(self, p95_latency_seconds: _Optional[float] = ..., error_ratio: _Optional[float] = ..., requests_per_second: _Optional[float] = ..., window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class ServiceStatus(_message.Message):
    __slots__ = ("service", "state", "replicas", "figures")
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REPLICAS_FIELD_NUMBER: _ClassVar[int]
    FIGURES_FIELD_NUMBER: _ClassVar[int]
    service: str
    state: ServingState
    replicas: _containers.RepeatedCompositeFieldContainer[ReplicaStatus]
    figures: ServiceFigures
    def __init__(self, service: _Optional[str] = ..., state: _Optional[_Union[ServingState, str]] = ..., replicas: _Optional[_Iterable[_Union[ReplicaStatus, _Mapping]]] = ..., figures: _Optional[_Union[ServiceFigures, _Mapping]] = ...) -> None: ...

class DependencyStatus(_message.Message):
    __slots__ = ("name", "state", "detail", "since")
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    state: ServingState
    detail: str
    since: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., state: _Optional[_Union[ServingState, str]] = ..., detail: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CapabilityStatus(_message.Message):
    __slots__ = ("capability", "state", "reasons")
    CAPABILITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    capability: str
    state: ServingState
    reasons: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, capability: _Optional[str] = ..., state: _Optional[_Union[ServingState, str]] = ..., reasons: _Optional[_Iterable[str]] = ...) -> None: ...

class BurnRateWindow(_message.Message):
    __slots__ = ("long_window", "short_window", "burn_rate_threshold", "long_burn_rate", "short_burn_rate", "severity", "firing")
    LONG_WINDOW_FIELD_NUMBER: _ClassVar[int]
    SHORT_WINDOW_FIELD_NUMBER: _ClassVar[int]
    BURN_RATE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    LONG_BURN_RATE_FIELD_NUMBER: _ClassVar[int]
    SHORT_BURN_RATE_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    FIRING_FIELD_NUMBER: _ClassVar[int]
    long_window: _duration_pb2.Duration
    short_window: _duration_pb2.Duration
    burn_rate_threshold: float
    long_burn_rate: float
    short_burn_rate: float
    severity: str
    firing: bool
    def __init__(self, long_window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., short_window: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., burn_rate_threshold: _Optional[float] = ..., long_burn_rate: _Optional[float] = ..., short_burn_rate: _Optional[float] = ..., severity: _Optional[str] = ..., firing: _Optional[bool] = ...) -> None: ...

class SloStatus(_message.Message):
    __slots__ = ("name", "description", "service", "grpc_service", "methods", "kind", "unit", "threshold", "objective", "period", "windows", "error_budget_remaining", "met")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    GRPC_SERVICE_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    WINDOWS_FIELD_NUMBER: _ClassVar[int]
    ERROR_BUDGET_REMAINING_FIELD_NUMBER: _ClassVar[int]
    MET_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    service: str
    grpc_service: str
    methods: _containers.RepeatedScalarFieldContainer[str]
    kind: str
    unit: str
    threshold: float
    objective: float
    period: _duration_pb2.Duration
    windows: _containers.RepeatedCompositeFieldContainer[BurnRateWindow]
    error_budget_remaining: float
    met: bool
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., service: _Optional[str] = ..., grpc_service: _Optional[str] = ..., methods: _Optional[_Iterable[str]] = ..., kind: _Optional[str] = ..., unit: _Optional[str] = ..., threshold: _Optional[float] = ..., objective: _Optional[float] = ..., period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., windows: _Optional[_Iterable[_Union[BurnRateWindow, _Mapping]]] = ..., error_budget_remaining: _Optional[float] = ..., met: _Optional[bool] = ...) -> None: ...

class SuiteStatus(_message.Message):
    __slots__ = ("overall", "capabilities", "services", "dependencies", "slos", "updated_at")
    OVERALL_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    SERVICES_FIELD_NUMBER: _ClassVar[int]
    DEPENDENCIES_FIELD_NUMBER: _ClassVar[int]
    SLOS_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    overall: ServingState
    capabilities: _containers.RepeatedCompositeFieldContainer[CapabilityStatus]
    services: _containers.RepeatedCompositeFieldContainer[ServiceStatus]
    dependencies: _containers.RepeatedCompositeFieldContainer[DependencyStatus]
    slos: _containers.RepeatedCompositeFieldContainer[SloStatus]
    updated_at: _timestamp_pb2.Timestamp
    def __init__(self, overall: _Optional[_Union[ServingState, str]] = ..., capabilities: _Optional[_Iterable[_Union[CapabilityStatus, _Mapping]]] = ..., services: _Optional[_Iterable[_Union[ServiceStatus, _Mapping]]] = ..., dependencies: _Optional[_Iterable[_Union[DependencyStatus, _Mapping]]] = ..., slos: _Optional[_Iterable[_Union[SloStatus, _Mapping]]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: SuiteStatus
    def __init__(self, status: _Optional[_Union[SuiteStatus, _Mapping]] = ...) -> None: ...

class WatchStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchStatusResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: SuiteStatus
    def __init__(self, status: _Optional[_Union[SuiteStatus, _Mapping]] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("id", "name", "severity", "state", "summary", "value", "threshold", "runbook_url", "started_at", "resolved_at", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    RUNBOOK_URL_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_AT_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    severity: Severity
    state: AlertState
    summary: str
    value: float
    threshold: float
    runbook_url: str
    started_at: _timestamp_pb2.Timestamp
    resolved_at: _timestamp_pb2.Timestamp
    labels: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., severity: _Optional[_Union[Severity, str]] = ..., state: _Optional[_Union[AlertState, str]] = ..., summary: _Optional[str] = ..., value: _Optional[float] = ..., threshold: _Optional[float] = ..., runbook_url: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resolved_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListAlertsRequest(_message.Message):
    __slots__ = ("include_resolved",)
    INCLUDE_RESOLVED_FIELD_NUMBER: _ClassVar[int]
    include_resolved: bool
    def __init__(self, include_resolved: _Optional[bool] = ...) -> None: ...

class ListAlertsResponse(_message.Message):
    __slots__ = ("alerts",)
    ALERTS_FIELD_NUMBER: _ClassVar[int]
    alerts: _containers.RepeatedCompositeFieldContainer[Alert]
    def __init__(self, alerts: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ...) -> None: ...

class WatchAlertsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AlertSnapshot(_message.Message):
    __slots__ = ("firing",)
    FIRING_FIELD_NUMBER: _ClassVar[int]
    firing: _containers.RepeatedCompositeFieldContainer[Alert]
    def __init__(self, firing: _Optional[_Iterable[_Union[Alert, _Mapping]]] = ...) -> None: ...

class WatchAlertsResponse(_message.Message):
    __slots__ = ("snapshot", "alert")
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    snapshot: AlertSnapshot
    alert: Alert
    def __init__(self, snapshot: _Optional[_Union[AlertSnapshot, _Mapping]] = ..., alert: _Optional[_Union[Alert, _Mapping]] = ...) -> None: ...
