export { fromSystemInformation, measureNode, type NodeResources } from "./measure.js";
export {
  ALL,
  applyReservation,
  type Offer,
  parseReservation,
  type Reservation,
  ReservationError,
} from "./reservation.js";
