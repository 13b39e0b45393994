// Friendly names for the generated message types. `X` is what you may send,
// `XOut` is what you receive (defaults filled in).
export type { AgentChannelClient, AgentChannelHandlers } from "./gen/maro/v1/AgentChannel.js";
export type { AgentMessage, AgentMessage__Output as AgentMessageOut } from "./gen/maro/v1/AgentMessage.js";
export type { ClusterEvent, ClusterEvent__Output as ClusterEventOut } from "./gen/maro/v1/ClusterEvent.js";
export type { ClusterStatus, ClusterStatus__Output as ClusterStatusOut } from "./gen/maro/v1/ClusterStatus.js";
export type { Component, Component__Output as ComponentOut } from "./gen/maro/v1/Component.js";
export type { ComponentSpec, ComponentSpec__Output as ComponentSpecOut } from "./gen/maro/v1/ComponentSpec.js";
export type { ContainerStatus, ContainerStatus__Output as ContainerStatusOut } from "./gen/maro/v1/ContainerStatus.js";
export type {
  DataListResponse,
  DataListResponse__Output as DataListResponseOut,
} from "./gen/maro/v1/DataListResponse.js";
export type {
  DataPushResponse,
  DataPushResponse__Output as DataPushResponseOut,
} from "./gen/maro/v1/DataPushResponse.js";
export type { FetchImageChunk__Output as FetchImageChunkOut } from "./gen/maro/v1/FetchImageChunk.js";
export type { FileChunk, FileChunk__Output as FileChunkOut } from "./gen/maro/v1/FileChunk.js";
export type { ImageInfo, ImageInfo__Output as ImageInfoOut } from "./gen/maro/v1/ImageInfo.js";
export type { ImageListResponse__Output as ImageListResponseOut } from "./gen/maro/v1/ImageListResponse.js";
export type { ImageStatus__Output as ImageStatusOut } from "./gen/maro/v1/ImageStatus.js";
export type { Job, Job__Output as JobOut } from "./gen/maro/v1/Job.js";
export type { JobLogsRequest__Output as JobLogsRequestOut } from "./gen/maro/v1/JobLogsRequest.js";
export type { JobSpec, JobSpec__Output as JobSpecOut } from "./gen/maro/v1/JobSpec.js";
export type { JoinRequest, JoinRequest__Output as JoinRequestOut } from "./gen/maro/v1/JoinRequest.js";
export type { JoinResponse, JoinResponse__Output as JoinResponseOut } from "./gen/maro/v1/JoinResponse.js";
export type { JoinToken, JoinToken__Output as JoinTokenOut } from "./gen/maro/v1/JoinToken.js";
export type { ListJobsResponse__Output as ListJobsResponseOut } from "./gen/maro/v1/ListJobsResponse.js";
export type { ListNodesResponse__Output as ListNodesResponseOut } from "./gen/maro/v1/ListNodesResponse.js";
export type { LogLine, LogLine__Output as LogLineOut } from "./gen/maro/v1/LogLine.js";
export type { MasterClient, MasterHandlers } from "./gen/maro/v1/Master.js";
export type { MasterMessage, MasterMessage__Output as MasterMessageOut } from "./gen/maro/v1/MasterMessage.js";
export type { Node, Node__Output as NodeOut } from "./gen/maro/v1/Node.js";
export type { Register, Register__Output as RegisterOut } from "./gen/maro/v1/Register.js";
export type { Registered__Output as RegisteredOut } from "./gen/maro/v1/Registered.js";
export type { Resources, Resources__Output as ResourcesOut } from "./gen/maro/v1/Resources.js";
export type { RevokeJoinTokenResponse__Output as RevokeJoinTokenResponseOut } from "./gen/maro/v1/RevokeJoinTokenResponse.js";
export type { StartContainer, StartContainer__Output as StartContainerOut } from "./gen/maro/v1/StartContainer.js";
export type { StopContainer, StopContainer__Output as StopContainerOut } from "./gen/maro/v1/StopContainer.js";
export type { StopJobResponse__Output as StopJobResponseOut } from "./gen/maro/v1/StopJobResponse.js";
export type { SubmitJobResponse__Output as SubmitJobResponseOut } from "./gen/maro/v1/SubmitJobResponse.js";
